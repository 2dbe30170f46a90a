import { EvidenceError } from "../types.ts";

const BEGIN = "-----BEGIN CERTIFICATE-----";
const END = "-----END CERTIFICATE-----";
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Strict PEM certificate list → DER blobs. Anything but certificate blocks and line breaks is rejected, and
 * base64 must be canonical, so that no byte of a PEM chain can change without changing a certificate.
 */
export function parsePemCertificates(pem: string | Uint8Array, what: string): Uint8Array[] {
  const text = typeof pem === "string" ? pem : Buffer.from(pem).toString("latin1");
  const lines = text.split("\n").map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  const certificates: Uint8Array[] = [];
  let body: string[] | undefined;
  for (const line of lines) {
    if (body === undefined) {
      if (line === BEGIN) body = [];
      else if (line.trim() !== "") throw malformed(what, "text outside a certificate block");
    } else if (line === END) {
      certificates.push(decodeCanonicalBase64(body.join(""), what));
      body = undefined;
    } else if (BASE64_LINE.test(line)) {
      body.push(line);
    } else {
      throw malformed(what, "invalid base64 line");
    }
  }
  if (body !== undefined) throw malformed(what, "unterminated certificate block");
  if (certificates.length === 0) throw malformed(what, "no certificate");
  return certificates;
}

function decodeCanonicalBase64(base64: string, what: string): Uint8Array {
  const der = Buffer.from(base64, "base64");
  if (der.length === 0 || der.toString("base64") !== base64) throw malformed(what, "non-canonical base64");
  return der;
}

function malformed(what: string, reason: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `${what}: ${reason}`);
}
