import { CompactEncrypt, importJWK, type JWK } from "jose";

/**
 * Content type of a released secret's plaintext: a JSON object from each Secret key to its value's exact bytes
 * in standard base64 (as in `Secret.data`), so binary values survive unchanged.
 */
export const RELEASED_SECRET_CONTENT_TYPE = "trustgate-secret-data+json";

/**
 * A Secret's data sealed to the attested guest key (ECDH-ES+A256KW, A256GCM): only the guest holding the
 * private half, which never leaves its memory, can read it. `kid` names the guest key's thumbprint.
 */
export async function sealSecretForGuest(
  data: Readonly<Record<string, Uint8Array>>,
  guestPublicJwk: { kty: "EC"; crv: "P-256"; x: string; y: string },
  guestKeyThumbprint: string,
): Promise<string> {
  const key = await importJWK({ ...guestPublicJwk, alg: "ECDH-ES+A256KW" } satisfies JWK, "ECDH-ES+A256KW");
  const encoded = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [
      k,
      Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64"),
    ]),
  );
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(encoded)))
    .setProtectedHeader({
      alg: "ECDH-ES+A256KW",
      enc: "A256GCM",
      kid: guestKeyThumbprint,
      cty: RELEASED_SECRET_CONTENT_TYPE,
    })
    .encrypt(key);
}
