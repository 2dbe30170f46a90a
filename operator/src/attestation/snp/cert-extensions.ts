/**
 * AMD's X.509 extensions on VCEK/VLEK certificates (VCEK certificate and KDS interface spec), OIDs 1.3.6.1.4.1.3704.1.x:
 * .1 struct version, .2 productName (IA5String), .3.x TCB SPLs (INTEGER), .4 hwID (raw CHIP_ID bytes), .5 csp_id (VLEK).
 */
import {
  children,
  contextTag,
  type DerNode,
  DerError,
  explicit,
  ia5String,
  readDer,
  smallInteger,
} from "../../crypto/der.ts";
import { algorithmIdentifier, type CertificateDer, parseCertificateDer } from "../../crypto/x509-der.ts";
import { EvidenceError } from "../types.ts";
import type { TcbComponent } from "./tcb.ts";

const AMD_ARC = "1.3.6.1.4.1.3704.1";
const OID = {
  structVersion: `${AMD_ARC}.1`,
  productName: `${AMD_ARC}.2`,
  hwId: `${AMD_ARC}.4`,
  cspId: `${AMD_ARC}.5`,
} as const;
const SPL_OIDS: Readonly<Record<string, TcbComponent>> = {
  [`${AMD_ARC}.3.1`]: "bootloader",
  [`${AMD_ARC}.3.2`]: "tee",
  [`${AMD_ARC}.3.3`]: "snp",
  [`${AMD_ARC}.3.8`]: "microcode",
  [`${AMD_ARC}.3.9`]: "fmc",
};

const RSASSA_PSS = "1.2.840.113549.1.1.10";
const MGF1 = "1.2.840.113549.1.1.8";
const SHA384 = "2.16.840.1.101.3.4.2.2";

export interface AmdCertExtensions {
  structVersion?: number;
  productName?: string;
  /** Security patch levels by TCB component (blSPL, teeSPL, snpSPL, ucodeSPL, fmcSPL). */
  spl: Partial<Record<TcbComponent, number>>;
  /** 64 bytes (CHIP_ID) on Milan/Genoa VCEKs, 8 on Turin; absent on VLEKs. */
  hwId?: Uint8Array;
  cspId?: string;
}

function malformed(message: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `AMD certificate extension: ${message}`);
}

function decoded<T>(oid: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof DerError) throw malformed(`${oid}: ${error.message}`);
    throw error;
  }
}

function integerValue(bytes: Uint8Array, oid: string): number {
  return decoded(oid, () => smallInteger(readDer(bytes, oid), `${oid} INTEGER`));
}

function ia5Value(bytes: Uint8Array, oid: string): string {
  return decoded(oid, () => ia5String(readDer(bytes, oid), `${oid} IA5String`));
}

export function parseCertificate(der: Uint8Array): CertificateDer {
  try {
    return parseCertificateDer(der);
  } catch (error) {
    throw new EvidenceError("EvidenceMalformed", "certificate is not valid DER X.509", { cause: error });
  }
}

export function decodeAmdExtensions(cert: CertificateDer): AmdCertExtensions {
  const result: AmdCertExtensions = { spl: {} };
  for (const extension of cert.extensions) {
    const oid = extension.oid;
    const value = extension.value;
    const component = SPL_OIDS[oid];
    if (component !== undefined) {
      const spl = integerValue(value, oid);
      if (spl > 255) throw malformed(`${oid} value ${spl} exceeds a byte`);
      result.spl[component] = spl;
    } else if (oid === OID.structVersion) {
      result.structVersion = integerValue(value, oid);
    } else if (oid === OID.productName) {
      result.productName = ia5Value(value, oid);
    } else if (oid === OID.hwId) {
      result.hwId = value.slice();
    } else if (oid === OID.cspId) {
      result.cspId = ia5Value(value, oid);
    }
  }
  return result;
}

/** RSASSA-PSS-params (RFC 4055): [0] hashAlgorithm, [1] maskGenAlgorithm, [2] saltLength, [3] trailerField. */
function pssParams(parameters: DerNode): { hash?: string; mgf?: string; mgfHash?: string; salt?: number } {
  const out: { hash?: string; mgf?: string; mgfHash?: string; salt?: number } = {};
  for (const field of children(parameters, "RSASSA-PSS-params")) {
    if (field.tag === contextTag(0, true))
      out.hash = algorithmIdentifier(explicit(field, "hash"), "hash").oid;
    else if (field.tag === contextTag(1, true)) {
      const mgf = algorithmIdentifier(explicit(field, "maskGen"), "maskGen");
      out.mgf = mgf.oid;
      if (mgf.parameters !== undefined) out.mgfHash = algorithmIdentifier(mgf.parameters, "MGF1 hash").oid;
    } else if (field.tag === contextTag(2, true)) out.salt = smallInteger(explicit(field, "salt"), "salt");
  }
  return out;
}

/** AMD signs ASK, ASVK, VCEK and VLEK with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48; nothing else is accepted. */
export function isAmdPssSignature(cert: CertificateDer): boolean {
  const { oid, parameters } = cert.signatureAlgorithm;
  if (oid !== RSASSA_PSS || parameters === undefined) return false;
  try {
    const params = pssParams(parameters);
    return params.hash === SHA384 && params.mgf === MGF1 && params.mgfHash === SHA384 && params.salt === 48;
  } catch (error) {
    if (error instanceof DerError) return false;
    throw error;
  }
}
