import { createPublicKey, hash, timingSafeEqual, type KeyObject } from "node:crypto";
import { verifyP1363 } from "../../crypto/ecdsa-signature.ts";
import type { VerificationError } from "../types.ts";
import type { TdxQuote } from "./quote.ts";

// SubjectPublicKeyInfo header for an uncompressed P-256 point (id-ecPublicKey, prime256v1).
const P256_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex");

// Importing a key costs about a third of a verify; attestation keys repeat for every quote of one QE.
const ATTESTATION_KEYS_KEPT = 4096;
const attestationKeys = new Map<string, KeyObject | undefined>();

function rawP256Key(raw: Uint8Array): KeyObject | undefined {
  // latin1, not base64: Node encodes base64 with AVX-512 code that slows the verifies after it (quote-text.ts).
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("latin1");
  if (attestationKeys.has(id)) return attestationKeys.get(id);
  let key: KeyObject | undefined;
  try {
    const spki = Buffer.concat([P256_SPKI_PREFIX, Buffer.of(4), raw]);
    key = createPublicKey({ key: spki, format: "der", type: "spki" });
  } catch {
    key = undefined;
  }
  if (attestationKeys.size >= ATTESTATION_KEYS_KEPT) attestationKeys.clear();
  attestationKeys.set(id, key);
  return key;
}

function verifySignature(data: Uint8Array, key: KeyObject, signature: Uint8Array): boolean {
  return verifyP1363("sha256", data, key, signature);
}

/**
 * The per-quote checks: quote signature by the attestation key, QE report signature by the PCK leaf key, and the
 * QE report binding REPORTDATA = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes.
 */
export function quoteSignatureErrors(quote: TdxQuote, pckKey: KeyObject): VerificationError[] {
  const errors: VerificationError[] = [];
  const attestationKey = rawP256Key(quote.attestationKey);
  if (attestationKey === undefined) {
    errors.push({ code: "SignatureInvalid", message: "attestation key is not a P-256 point" });
  } else if (!verifySignature(quote.signedRegion, attestationKey, quote.signature)) {
    errors.push({
      code: "SignatureInvalid",
      message: "quote signature does not verify with the attestation key",
    });
  }
  if (!verifySignature(quote.qeReport.raw, pckKey, quote.qeReportSignature)) {
    errors.push({
      code: "SignatureInvalid",
      message: "QE report signature does not verify with the PCK key",
    });
  }
  const expected = hash("sha256", Buffer.concat([quote.attestationKey, quote.qeAuthData]), "buffer");
  const reportData = quote.qeReport.reportData;
  if (
    !timingSafeEqual(expected, reportData.subarray(0, 32)) ||
    reportData.subarray(32).some((byte) => byte !== 0)
  ) {
    errors.push({ code: "SignatureInvalid", message: "QE report does not bind the attestation key" });
  }
  return errors;
}
