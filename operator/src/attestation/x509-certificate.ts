import { X509Certificate } from "node:crypto";
import { EvidenceError } from "./types.ts";

/** A certificate from evidence; bytes that are not one make the evidence malformed (not the chain invalid). */
export function evidenceCertificate(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (error) {
    throw new EvidenceError("EvidenceMalformed", `${what} is not a valid X.509 certificate`, {
      cause: error,
    });
  }
}
