import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";

/** One operator signing key (ES256), stored as a private JWK with its creation time. */
export interface StoredSigningKey {
  kid: string;
  createdAt: string;
  privateJwk: JWK;
}

export interface KeyRotationPolicy {
  /** A key signs new results for this long... */
  rotateAfterMs: number;
  /** ...and stays in the JWKS this much longer, so results signed with it still verify. */
  retainAfterRotationMs: number;
}

export async function generateSigningKey(now: Date): Promise<StoredSigningKey> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(privateJwk, "sha256");
  return { kid, createdAt: now.toISOString(), privateJwk: { ...privateJwk, kid, alg: "ES256", use: "sig" } };
}

/** The key that signs now: the newest one. */
export function activeKey(keys: readonly StoredSigningKey[]): StoredSigningKey | undefined {
  return [...keys].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0];
}

/**
 * Rotation with overlap: a new key when the active one is older than `rotateAfterMs`; keys retired
 * longer than `retainAfterRotationMs` ago leave the set. Returns the same array when nothing changes.
 */
export async function rotateSigningKeys(
  keys: readonly StoredSigningKey[],
  now: Date,
  policy: KeyRotationPolicy,
): Promise<readonly StoredSigningKey[]> {
  const active = activeKey(keys);
  const needsNew =
    active === undefined || now.getTime() - Date.parse(active.createdAt) >= policy.rotateAfterMs;
  const next = needsNew ? [await generateSigningKey(now), ...keys] : [...keys];
  const sorted = next.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  const kept = sorted.filter((key, i) => {
    if (i === 0) return true;
    const retiredAt = Date.parse(sorted[i - 1]?.createdAt ?? key.createdAt);
    return now.getTime() - retiredAt < policy.retainAfterRotationMs;
  });
  const unchanged = !needsNew && kept.length === keys.length;
  return unchanged ? keys : kept;
}

/** The public JWKS clients fetch from /.well-known/jwks.json: every key still in the set, no private parts. */
export function publicJwks(keys: readonly StoredSigningKey[]): { keys: JWK[] } {
  return {
    keys: keys.map((k) => {
      const { kty, crv, x, y } = k.privateJwk;
      return { kty, crv, x, y, kid: k.kid, alg: "ES256", use: "sig" };
    }),
  };
}

export type SigningKeyObject = Awaited<ReturnType<typeof importJWK>>;

export function signingKeyObject(key: StoredSigningKey): Promise<SigningKeyObject> {
  return importJWK(key.privateJwk, "ES256");
}
