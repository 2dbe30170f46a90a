/**
 * TCG DICE extensions on NVIDIA device leaf certificates. The FWID (SHA-384 of the firmware that holds the leaf
 * key) sits in a TCB-info extension: Hopper uses 2.23.133.5.4.1 with NVIDIA's layout SEQUENCE { INTEGER,
 * SubjectPublicKeyInfo, FWID }, Blackwell 2.23.133.5.4.1.1 with the DICE TcbInfo layout, whose `fwids [6]` list
 * is followed by more fields. Both are decoded, never sliced. UEID (2.23.133.5.4.4) is SEQUENCE { OCTET STRING }.
 */
import * as asn1js from "asn1js";
import type * as pkijs from "pkijs";
import { EvidenceError } from "../types.ts";

export const TCB_INFO_OIDS = ["2.23.133.5.4.1", "2.23.133.5.4.1.1"] as const;
export const UEID_OID = "2.23.133.5.4.4";
const SHA384_OID = "2.16.840.1.101.3.4.2.2";
const SHA384_LENGTH = 48;
const CONTEXT_SPECIFIC_CLASS = 3;
const FWIDS_TAG = 6;

function malformed(oid: string, reason: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `leaf certificate extension ${oid}: ${reason}`);
}

function decodeDer(bytes: Uint8Array, oid: string): asn1js.AsnType {
  const decoded = asn1js.fromBER(bytes);
  if (decoded.offset === -1 || decoded.offset !== bytes.length) throw malformed(oid, "not DER");
  return decoded.result;
}

/** FWID ::= SEQUENCE { hashAlg OBJECT IDENTIFIER, digest OCTET STRING } */
function asFwid(node: asn1js.AsnType): { hashAlg: string; digest: Uint8Array } | undefined {
  if (!(node instanceof asn1js.Sequence) || node.valueBlock.value.length !== 2) return undefined;
  const [hashAlg, digest] = node.valueBlock.value;
  if (!(hashAlg instanceof asn1js.ObjectIdentifier) || !(digest instanceof asn1js.OctetString))
    return undefined;
  return { hashAlg: hashAlg.valueBlock.toString(), digest: new Uint8Array(digest.valueBlock.valueHexView) };
}

function fwidCandidates(top: asn1js.Sequence): { hashAlg: string; digest: Uint8Array }[] {
  const found: { hashAlg: string; digest: Uint8Array }[] = [];
  for (const child of top.valueBlock.value) {
    const direct = asFwid(child);
    if (direct !== undefined) found.push(direct);
    const { tagClass, tagNumber } = child.idBlock;
    if (
      tagClass === CONTEXT_SPECIFIC_CLASS &&
      tagNumber === FWIDS_TAG &&
      child instanceof asn1js.Constructed
    ) {
      for (const entry of child.valueBlock.value) {
        const fwid = asFwid(entry);
        if (fwid !== undefined) found.push(fwid);
      }
    }
  }
  return found;
}

function extensionValue(cert: pkijs.Certificate, oids: readonly string[]): [string, Uint8Array] | undefined {
  const extension = cert.extensions?.find((e) => oids.includes(e.extnID));
  if (extension === undefined) return undefined;
  return [extension.extnID, new Uint8Array(extension.extnValue.valueBlock.valueHexView)];
}

/** The leaf's SHA-384 FWID, or undefined when it has no TCB-info extension. */
export function certificateFwid(cert: pkijs.Certificate): Uint8Array | undefined {
  const found = extensionValue(cert, TCB_INFO_OIDS);
  if (found === undefined) return undefined;
  const [oid, value] = found;
  const top = decodeDer(value, oid);
  if (!(top instanceof asn1js.Sequence)) throw malformed(oid, "not a SEQUENCE");
  const fwid = fwidCandidates(top).find((f) => f.hashAlg === SHA384_OID);
  if (fwid === undefined) throw malformed(oid, "carries no SHA-384 FWID");
  if (fwid.digest.length !== SHA384_LENGTH) throw malformed(oid, `FWID has ${fwid.digest.length} bytes`);
  return fwid.digest;
}

/** The UEID octets, or undefined when the leaf has no UEID extension. */
export function certificateUeid(cert: pkijs.Certificate): Uint8Array | undefined {
  const found = extensionValue(cert, [UEID_OID]);
  if (found === undefined) return undefined;
  const [oid, value] = found;
  const top = decodeDer(value, oid);
  const children = top instanceof asn1js.Sequence ? top.valueBlock.value : [];
  const [ueid] = children;
  if (children.length !== 1 || !(ueid instanceof asn1js.OctetString)) {
    throw malformed(oid, "is not SEQUENCE { OCTET STRING }");
  }
  return new Uint8Array(ueid.valueBlock.valueHexView);
}
