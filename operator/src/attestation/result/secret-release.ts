import { CompactEncrypt, importJWK, type JWK } from "jose";

/**
 * A Secret's data sealed to the attested guest key (ECDH-ES+A256KW, A256GCM): only the guest holding the
 * private half, which never leaves its memory, can read it. `kid` names the guest key's thumbprint.
 */
export async function sealSecretForGuest(
  data: Record<string, string>,
  guestPublicJwk: { kty: "EC"; crv: "P-256"; x: string; y: string },
  guestKeyThumbprint: string,
): Promise<string> {
  const key = await importJWK({ ...guestPublicJwk, alg: "ECDH-ES+A256KW" } satisfies JWK, "ECDH-ES+A256KW");
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(data)))
    .setProtectedHeader({
      alg: "ECDH-ES+A256KW",
      enc: "A256GCM",
      kid: guestKeyThumbprint,
      cty: "trustgate-secret+json",
    })
    .encrypt(key);
}
