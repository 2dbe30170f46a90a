/**
 * RFC 5280 checks node:crypto's X509Certificate leaves out: key usage bits, basic constraints with path length,
 * and unknown critical extensions. NVIDIA device chains mark keyUsage and basicConstraints critical.
 */
import { bitString, boolean, DerError, readDer, sequence, smallInteger, TAG } from "../../crypto/der.ts";
import { type CertificateDer, findExtension, parseCertificateDer } from "../../crypto/x509-der.ts";
import { EvidenceError } from "../types.ts";

const KEY_USAGE = "2.5.29.15";
const BASIC_CONSTRAINTS = "2.5.29.19";
/** Critical extensions a device chain may carry; anything else critical is rejected. */
const UNDERSTOOD = new Set([KEY_USAGE, BASIC_CONSTRAINTS, "2.5.29.17", "2.5.29.37", "2.5.29.32"]);

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
export const KEY_USAGE_BIT = { digitalSignature: 0, keyCertSign: 5 } as const;

export function parseCertificate(der: Uint8Array, what: string): CertificateDer {
  try {
    return parseCertificateDer(der, what);
  } catch (error) {
    throw new EvidenceError("EvidenceMalformed", `${what} is not valid DER X.509`, { cause: error });
  }
}

/** True when the certificate has no KeyUsage extension or the bit is set; false when the extension is not DER. */
export function allowsKeyUsage(cert: CertificateDer, bit: number): boolean {
  const ext = findExtension(cert, KEY_USAGE);
  if (ext === undefined) return true;
  try {
    const { bits } = bitString(readDer(ext.value, "keyUsage"), "keyUsage");
    const byte = bits[bit >> 3] ?? 0;
    return (byte & (0x80 >> (bit & 7))) !== 0;
  } catch (error) {
    if (error instanceof DerError) return false;
    throw error;
  }
}

/** cA and pathLenConstraint of the BasicConstraints extension (cA false when absent or not DER). */
export function basicConstraints(cert: CertificateDer): { ca: boolean; pathLength?: number } {
  const ext = findExtension(cert, BASIC_CONSTRAINTS);
  if (ext === undefined) return { ca: false };
  try {
    const fields = sequence(readDer(ext.value, "basicConstraints"), "basicConstraints");
    let i = 0;
    let ca = false;
    if (fields[0]?.tag === TAG.BOOLEAN) {
      ca = boolean(fields[0], "basicConstraints cA");
      i = 1;
    }
    if (fields.length > i + 1) return { ca: false };
    const length = fields[i];
    if (length === undefined) return { ca };
    return { ca, pathLength: smallInteger(length, "basicConstraints pathLenConstraint") };
  } catch (error) {
    if (error instanceof DerError) return { ca: false };
    throw error;
  }
}

export function unknownCriticalExtensions(cert: CertificateDer, alsoUnderstood: readonly string[]): string[] {
  return cert.extensions
    .filter((e) => e.critical && !UNDERSTOOD.has(e.oid) && !alsoUnderstood.includes(e.oid))
    .map((e) => e.oid);
}
