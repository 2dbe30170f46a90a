import { createHash } from "node:crypto";
import { base64url, calculateJwkThumbprint } from "jose";

export interface GuestPublicKey {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
}

/** RFC 7638 SHA-256 thumbprint of the guest key, as raw bytes. */
export async function keyThumbprint(publicKey: GuestPublicKey): Promise<Uint8Array> {
  const { kty, crv, x, y } = publicKey;
  return base64url.decode(await calculateJwkThumbprint({ kty, crv, x, y }, "sha256"));
}

/**
 * reportData = SHA-512(nonce ‖ SHA-256 JWK thumbprint of the guest key) (docs/evidence-bundle.md#binding): one
 * challenge binds the CPU evidence, every GPU's evidence (first 32 bytes) and the guest's key.
 */
export async function expectedReportData(nonceHex: string, publicKey: GuestPublicKey): Promise<Uint8Array> {
  if (!/^[0-9a-f]{64}$/.test(nonceHex))
    throw new Error("nonce must be 64 lowercase hex characters (32 bytes)");
  const hash = createHash("sha512");
  hash.update(Buffer.from(nonceHex, "hex"));
  hash.update(await keyThumbprint(publicKey));
  return new Uint8Array(hash.digest());
}

/** The GPU SPDM request nonce bound to the same challenge: the first 32 bytes of reportData. */
export function gpuNonce(reportData: Uint8Array): Uint8Array {
  return reportData.slice(0, 32);
}
