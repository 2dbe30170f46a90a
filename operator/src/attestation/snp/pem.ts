/** PEM <-> DER for the certificates of SNP evidence, and strict base64 for the report. */
import { EvidenceError } from "../types.ts";

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeBase64Strict(text: string, what: string): Uint8Array {
  const compact = text.replace(/\s+/g, "");
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new EvidenceError("EvidenceMalformed", `${what} is not valid base64`);
  }
  return Buffer.from(compact, "base64");
}

/** The DER of every certificate in a PEM text, in order. */
export function pemToDers(text: string, what: string): Uint8Array[] {
  const ders: Uint8Array[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    ders.push(decodeBase64Strict(match[1] ?? "", what));
  }
  if (ders.length === 0) throw new EvidenceError("EvidenceMalformed", `${what} holds no PEM certificate`);
  return ders;
}

export function derToPem(der: Uint8Array): string {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return ["-----BEGIN CERTIFICATE-----", ...lines, "-----END CERTIFICATE-----", ""].join("\n");
}

/** Certificates fetched from a collateral source are DER (KDS VCEK) or PEM (KDS cert_chain). */
export function certificatesFromBytes(bytes: Uint8Array, what: string): Uint8Array[] {
  const text = Buffer.from(bytes).toString("latin1");
  return text.includes("-----BEGIN CERTIFICATE-----") ? pemToDers(text, what) : [bytes];
}
