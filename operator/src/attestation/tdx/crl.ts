import { verify, type X509Certificate } from "node:crypto";
import * as pkijs from "pkijs";
import { EvidenceError } from "../types.ts";

export { crlDer as decodeCrlBytes } from "../collateral/crl-encoding.ts";

export interface ParsedCrl {
  der: Uint8Array;
  parsed: pkijs.CertificateRevocationList;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** Normalized serials (lowercase hex, no leading zeros). */
  revokedSerials: Set<string>;
}

export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, "");
}

export function parseCrl(der: Uint8Array, what: string): ParsedCrl {
  let parsed: pkijs.CertificateRevocationList;
  try {
    parsed = pkijs.CertificateRevocationList.fromBER(der);
  } catch (error) {
    throw new EvidenceError("EvidenceMalformed", `${what}: unparsable CRL`, { cause: error });
  }
  const revokedSerials = new Set(
    (parsed.revokedCertificates ?? []).map((entry) =>
      normalizeSerial(Buffer.from(entry.userCertificate.valueBlock.valueHexView).toString("hex")),
    ),
  );
  return {
    der,
    parsed,
    thisUpdate: parsed.thisUpdate.value,
    ...(parsed.nextUpdate === undefined ? {} : { nextUpdate: parsed.nextUpdate.value }),
    revokedSerials,
  };
}

/** Intel signs its CRLs with ECDSA P-256 and SHA-256, the only algorithm the signature is checked with below. */
const ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";

/**
 * The CRL names `issuer` as its issuer and carries a valid signature by its key, made with the algorithm both its
 * signed part and its outer signatureAlgorithm name (RFC 5280 5.1.1.2: the two must match).
 */
export function isCrlSignedBy(crl: ParsedCrl, issuer: X509Certificate): boolean {
  const subject = pkijs.Certificate.fromBER(issuer.raw).subject;
  if (!subject.isEqual(crl.parsed.issuer)) return false;
  if (crl.parsed.signatureAlgorithm.algorithmId !== ECDSA_WITH_SHA256) return false;
  if (crl.parsed.signature.algorithmId !== ECDSA_WITH_SHA256) return false;
  const signature = crl.parsed.signatureValue.valueBlock.valueHexView;
  try {
    return verify("sha256", crl.parsed.tbsView, issuer.publicKey, signature);
  } catch {
    return false;
  }
}

const serials = new WeakMap<X509Certificate, string>();

export function isRevoked(crl: ParsedCrl, certificate: X509Certificate): boolean {
  let serial = serials.get(certificate);
  if (serial === undefined) {
    serial = normalizeSerial(certificate.serialNumber);
    serials.set(certificate, serial);
  }
  return crl.revokedSerials.has(serial);
}
