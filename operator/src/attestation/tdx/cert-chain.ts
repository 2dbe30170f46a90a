import { X509Certificate } from "node:crypto";
import { EvidenceError, type VerificationError } from "../types.ts";

export function parseCertificate(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (error) {
    throw new EvidenceError("EvidenceMalformed", `${what}: unparsable certificate`, { cause: error });
  }
}

export function commonName(certificate: X509Certificate, field: "subject" | "issuer" = "subject"): string {
  const line = certificate[field].split("\n").find((part) => part.startsWith("CN="));
  return line === undefined ? "" : line.slice(3);
}

function isSelfIssued(certificate: X509Certificate): boolean {
  return certificate.subject === certificate.issuer;
}

/**
 * Checks signatures and issuer links of a chain (leaf first) up to the pinned `root`. Time-independent, so the
 * result may be cached by the chain's digest. A self-issued last certificate must be the pinned root itself.
 * Returns the chain without the root. Throws `ChainInvalid`.
 */
export function verifyChainSignatures(
  ders: Uint8Array[],
  root: X509Certificate,
  what: string,
): X509Certificate[] {
  const certificates = ders.map((der, index) => parseCertificate(der, `${what} certificate ${index}`));
  const last = certificates.at(-1);
  if (last !== undefined && isSelfIssued(last)) {
    if (!last.raw.equals(root.raw)) {
      throw new EvidenceError(
        "ChainInvalid",
        `${what} ends in "${commonName(last)}", not the pinned Intel root`,
      );
    }
    certificates.pop();
  }
  if (certificates.length === 0) {
    throw new EvidenceError("ChainInvalid", `${what} has no certificate below the root`);
  }
  certificates.forEach((certificate, index) => {
    const issuer = certificates[index + 1] ?? root;
    const linked = issuer.ca && certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
    if (!linked) {
      throw new EvidenceError(
        "ChainInvalid",
        `${what}: "${commonName(certificate)}" is not signed by "${commonName(issuer)}"`,
      );
    }
  });
  return certificates;
}

interface Validity {
  from: Date;
  to: Date;
  /** The same instants as numbers: compared on every quote, without a Date conversion each time. */
  fromMs: number;
  toMs: number;
  label: string;
}

// X509Certificate builds new Date objects on every access; chains are long-lived, so read them once.
const validities = new WeakMap<X509Certificate, Validity>();

function validityOf(certificate: X509Certificate): Validity {
  let validity = validities.get(certificate);
  if (validity === undefined) {
    validity = {
      from: certificate.validFromDate,
      to: certificate.validToDate,
      fromMs: certificate.validFromDate.getTime(),
      toMs: certificate.validToDate.getTime(),
      label: `"${commonName(certificate)}" (serial ${certificate.serialNumber.toLowerCase()})`,
    };
    validities.set(certificate, validity);
  }
  return validity;
}

export function isValidAt(certificate: X509Certificate, now: Date): boolean {
  const { fromMs, toMs } = validityOf(certificate);
  const at = now.getTime();
  return at >= fromMs && at <= toMs;
}

export function certificateTimeErrors(
  certificates: readonly X509Certificate[],
  now: Date,
  what: string,
): VerificationError[] {
  const errors: VerificationError[] = [];
  for (const certificate of certificates) {
    if (isValidAt(certificate, now)) continue;
    const { from, to, label } = validityOf(certificate);
    errors.push({
      code: "CertificateExpired",
      message: `${what}: ${label} is valid ${from.toISOString()}..${to.toISOString()}, not at ${now.toISOString()}`,
    });
  }
  return errors;
}
