/**
 * RFC 5280 checks node:crypto's X509Certificate leaves out: key usage bits, basic constraints with path length,
 * and unknown critical extensions. NVIDIA device chains mark keyUsage and basicConstraints critical.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { EvidenceError } from "../types.ts";

const KEY_USAGE = "2.5.29.15";
const BASIC_CONSTRAINTS = "2.5.29.19";
/** Critical extensions a device chain may carry; anything else critical is rejected. */
const UNDERSTOOD = new Set([KEY_USAGE, BASIC_CONSTRAINTS, "2.5.29.17", "2.5.29.37", "2.5.29.32"]);

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
export const KEY_USAGE_BIT = { digitalSignature: 0, keyCertSign: 5 } as const;

export function parseCertificate(der: Uint8Array, what: string): pkijs.Certificate {
  try {
    return pkijs.Certificate.fromBER(der);
  } catch (error) {
    throw new EvidenceError("EvidenceMalformed", `${what} is not valid DER X.509`, { cause: error });
  }
}

function extension(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === oid);
}

/** True when the certificate has no KeyUsage extension or the bit is set. */
export function allowsKeyUsage(cert: pkijs.Certificate, bit: number): boolean {
  const ext = extension(cert, KEY_USAGE);
  if (ext === undefined) return true;
  const decoded = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  if (!(decoded.result instanceof asn1js.BitString)) return false;
  const bytes = decoded.result.valueBlock.valueHexView;
  const byte = bytes[bit >> 3] ?? 0;
  return (byte & (0x80 >> (bit & 7))) !== 0;
}

/** cA and pathLenConstraint of the BasicConstraints extension (cA false when absent). */
export function basicConstraints(cert: pkijs.Certificate): { ca: boolean; pathLength?: number } {
  const ext = extension(cert, BASIC_CONSTRAINTS);
  if (ext === undefined) return { ca: false };
  try {
    const parsed = new pkijs.BasicConstraints({
      schema: asn1js.fromBER(ext.extnValue.valueBlock.valueHexView).result,
    });
    const pathLength = parsed.pathLenConstraint;
    if (typeof pathLength === "number") return { ca: parsed.cA, pathLength };
    return { ca: parsed.cA };
  } catch {
    return { ca: false };
  }
}

export function unknownCriticalExtensions(
  cert: pkijs.Certificate,
  alsoUnderstood: readonly string[],
): string[] {
  return (cert.extensions ?? [])
    .filter((e) => e.critical && !UNDERSTOOD.has(e.extnID) && !alsoUnderstood.includes(e.extnID))
    .map((e) => e.extnID);
}
