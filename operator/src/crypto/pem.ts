/** PEM <-> DER for certificates of evidence and collateral, and strict base64. */
import { EvidenceError } from "../attestation/types.ts";

const BEGIN = "-----BEGIN CERTIFICATE-----";
const END = "-----END CERTIFICATE-----";
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

export interface PemOptions {
  /**
   * Skip text between certificate blocks (a driver's NUL padding) instead of refusing it. Only for reading
   * what a local device returned; evidence is always parsed with the default, strict.
   */
  ignoreTextOutsideBlocks?: boolean;
}

/**
 * Strict PEM certificate list → DER blobs. Anything but certificate blocks and line breaks is rejected, and
 * base64 must be canonical, so that no byte of a PEM chain can change without changing a certificate.
 */
export function parsePemCertificates(
  pem: string | Uint8Array,
  what: string,
  options: PemOptions = {},
): Uint8Array[] {
  const text = typeof pem === "string" ? pem : Buffer.from(pem).toString("latin1");
  const lines = text.split("\n").map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  const certificates: Uint8Array[] = [];
  let body: string[] | undefined;
  for (const line of lines) {
    if (body === undefined) {
      if (line === BEGIN) body = [];
      else if (line.trim() !== "" && options.ignoreTextOutsideBlocks !== true)
        throw malformed(what, "text outside a certificate block");
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

/**
 * Standard, padded, canonical base64 (whitespace ignored). Node's decoder skips characters outside the alphabet
 * and also takes the URL-safe one, so the check is that the bytes encode back to the same text: one native pass
 * each way, several times cheaper than a regular expression over a GPU's ~5 KB of evidence.
 */
export function decodeBase64Strict(text: string, what: string): Uint8Array {
  const compact = /\s/.test(text) ? text.replace(/\s+/g, "") : text;
  const bytes = compact.length % 4 === 0 ? Buffer.from(compact, "base64") : undefined;
  if (bytes === undefined || bytes.toString("base64") !== compact) {
    throw new EvidenceError("EvidenceMalformed", `${what} is not valid base64`);
  }
  return bytes;
}

export function derToPem(der: Uint8Array): string {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return [BEGIN, ...lines, END, ""].join("\n");
}

/** Certificates fetched from a collateral source are DER (KDS VCEK) or PEM (KDS cert_chain). */
export function certificatesFromBytes(bytes: Uint8Array, what: string): Uint8Array[] {
  const text = Buffer.from(bytes).toString("latin1");
  return text.includes(BEGIN) ? parsePemCertificates(text, what) : [bytes];
}
