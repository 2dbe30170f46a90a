/**
 * The guest's ephemeral key: a fresh P-256 key pair per challenge. The private half lives only in this process's
 * memory (a KeyObject, never exported or written); released secrets are sealed to the public half.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint } from "jose";
import type { GuestPublicKey } from "../../operator/src/attestation/binding.ts";

export interface GuestKey {
  publicJwk: GuestPublicKey;
  privateKey: KeyObject;
  /** RFC 7638 SHA-256 thumbprint (base64url), the `kid` of JWEs sealed to this key. */
  thumbprint: string;
}

export async function newGuestKey(): Promise<GuestKey> {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  if (jwk.x === undefined || jwk.y === undefined) throw new Error("P-256 public key without coordinates");
  const publicJwk: GuestPublicKey = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  return { publicJwk, privateKey, thumbprint: await calculateJwkThumbprint(publicJwk, "sha256") };
}
