/**
 * TCG DICE extensions on NVIDIA device leaf certificates. The FWID (SHA-384 of the firmware that holds the leaf
 * key) sits in a TCB-info extension: Hopper uses 2.23.133.5.4.1 with NVIDIA's layout SEQUENCE { INTEGER,
 * SubjectPublicKeyInfo, FWID }, Blackwell 2.23.133.5.4.1.1 with the DICE TcbInfo layout, whose `fwids [6]` list
 * is followed by more fields. Both are decoded, never sliced. UEID (2.23.133.5.4.4) is SEQUENCE { OCTET STRING }.
 */
import {
  children,
  contextTag,
  type DerNode,
  DerError,
  oid as oidOf,
  readDer,
  TAG,
} from "../../crypto/der.ts";
import { type CertificateDer } from "../../crypto/x509-der.ts";
import { EvidenceError } from "../types.ts";

export const TCB_INFO_OIDS = ["2.23.133.5.4.1", "2.23.133.5.4.1.1"] as const;
export const UEID_OID = "2.23.133.5.4.4";
const SHA384_OID = "2.16.840.1.101.3.4.2.2";
const SHA384_LENGTH = 48;
/** fwids [6] IMPLICIT SEQUENCE OF FWID (DICE TcbInfo). */
const FWIDS_TAG = contextTag(6, true);

function malformed(oid: string, reason: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `leaf certificate extension ${oid}: ${reason}`);
}

function decodeDer(bytes: Uint8Array, oid: string): DerNode {
  try {
    return readDer(bytes, oid);
  } catch (error) {
    if (error instanceof DerError) throw malformed(oid, `not DER (${error.message})`);
    throw error;
  }
}

function childrenOf(node: DerNode, oid: string): DerNode[] {
  try {
    return children(node, oid);
  } catch (error) {
    if (error instanceof DerError) throw malformed(oid, `not DER (${error.message})`);
    throw error;
  }
}

/** FWID ::= SEQUENCE { hashAlg OBJECT IDENTIFIER, digest OCTET STRING } */
function asFwid(node: DerNode, oid: string): { hashAlg: string; digest: Uint8Array } | undefined {
  if (node.tag !== TAG.SEQUENCE) return undefined;
  const parts = childrenOf(node, oid);
  const [hashAlg, digest] = parts;
  if (parts.length !== 2 || hashAlg?.tag !== TAG.OID || digest?.tag !== TAG.OCTET_STRING) return undefined;
  try {
    return { hashAlg: oidOf(hashAlg, `${oid} FWID hashAlg`), digest: digest.content };
  } catch (error) {
    if (error instanceof DerError) throw malformed(oid, error.message);
    throw error;
  }
}

function fwidCandidates(top: DerNode, oid: string): { hashAlg: string; digest: Uint8Array }[] {
  const found: { hashAlg: string; digest: Uint8Array }[] = [];
  for (const child of childrenOf(top, oid)) {
    const direct = asFwid(child, oid);
    if (direct !== undefined) found.push(direct);
    if (child.tag === FWIDS_TAG) {
      for (const entry of childrenOf(child, oid)) {
        const fwid = asFwid(entry, oid);
        if (fwid !== undefined) found.push(fwid);
      }
    }
  }
  return found;
}

function extensionValue(cert: CertificateDer, oids: readonly string[]): [string, Uint8Array] | undefined {
  const extension = cert.extensions.find((e) => oids.includes(e.oid));
  if (extension === undefined) return undefined;
  return [extension.oid, extension.value];
}

/** The leaf's SHA-384 FWID, or undefined when it has no TCB-info extension. */
export function certificateFwid(cert: CertificateDer): Uint8Array | undefined {
  const found = extensionValue(cert, TCB_INFO_OIDS);
  if (found === undefined) return undefined;
  const [oid, value] = found;
  const top = decodeDer(value, oid);
  if (top.tag !== TAG.SEQUENCE) throw malformed(oid, "not a SEQUENCE");
  const fwid = fwidCandidates(top, oid).find((f) => f.hashAlg === SHA384_OID);
  if (fwid === undefined) throw malformed(oid, "carries no SHA-384 FWID");
  if (fwid.digest.length !== SHA384_LENGTH) throw malformed(oid, `FWID has ${fwid.digest.length} bytes`);
  return fwid.digest;
}

/** The UEID octets, or undefined when the leaf has no UEID extension. */
export function certificateUeid(cert: CertificateDer): Uint8Array | undefined {
  const found = extensionValue(cert, [UEID_OID]);
  if (found === undefined) return undefined;
  const [oid, value] = found;
  const top = decodeDer(value, oid);
  const parts = top.tag === TAG.SEQUENCE ? childrenOf(top, oid) : [];
  const [ueid] = parts;
  if (parts.length !== 1 || ueid?.tag !== TAG.OCTET_STRING) {
    throw malformed(oid, "is not SEQUENCE { OCTET STRING }");
  }
  return ueid.content.slice();
}
