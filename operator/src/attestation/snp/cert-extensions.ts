/**
 * AMD's X.509 extensions on VCEK/VLEK certificates (VCEK certificate and KDS interface spec), OIDs 1.3.6.1.4.1.3704.1.x:
 * .1 struct version, .2 productName (IA5String), .3.x TCB SPLs (INTEGER), .4 hwID (raw CHIP_ID bytes), .5 csp_id (VLEK).
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
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

function decodeDer(bytes: Uint8Array, oid: string): asn1js.AsnType {
  const decoded = asn1js.fromBER(bytes);
  if (decoded.offset === -1 || decoded.offset !== bytes.length) throw malformed(`${oid} is not DER`);
  return decoded.result;
}

function integerValue(bytes: Uint8Array, oid: string): number {
  const value = decodeDer(bytes, oid);
  if (!(value instanceof asn1js.Integer)) throw malformed(`${oid} is not an INTEGER`);
  const n = value.valueBlock.valueDec;
  if (!Number.isSafeInteger(n) || n < 0) throw malformed(`${oid} value ${n} out of range`);
  return n;
}

function ia5Value(bytes: Uint8Array, oid: string): string {
  const value = decodeDer(bytes, oid);
  if (!(value instanceof asn1js.IA5String)) throw malformed(`${oid} is not an IA5String`);
  return value.valueBlock.value;
}

export function parseCertificate(der: Uint8Array): pkijs.Certificate {
  try {
    return pkijs.Certificate.fromBER(der);
  } catch (error) {
    throw new EvidenceError("EvidenceMalformed", "certificate is not valid DER X.509", { cause: error });
  }
}

export function decodeAmdExtensions(cert: pkijs.Certificate): AmdCertExtensions {
  const result: AmdCertExtensions = { spl: {} };
  for (const extension of cert.extensions ?? []) {
    const oid = extension.extnID;
    const value = new Uint8Array(extension.extnValue.valueBlock.valueHexView);
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

/** AMD signs ASK, ASVK, VCEK and VLEK with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48; nothing else is accepted. */
export function isAmdPssSignature(cert: pkijs.Certificate): boolean {
  if (cert.signatureAlgorithm.algorithmId !== RSASSA_PSS) return false;
  try {
    const params = new pkijs.RSASSAPSSParams({ schema: cert.signatureAlgorithm.algorithmParams });
    const mgfHash = new pkijs.AlgorithmIdentifier({ schema: params.maskGenAlgorithm.algorithmParams });
    return (
      params.hashAlgorithm.algorithmId === SHA384 &&
      params.maskGenAlgorithm.algorithmId === MGF1 &&
      mgfHash.algorithmId === SHA384 &&
      params.saltLength === 48
    );
  } catch {
    return false;
  }
}
