import { CompactEncrypt, importJWK, SignJWT, type JWK } from "jose";
import { signingKeyObject, type StoredSigningKey } from "./signing-keys.ts";

/**
 * Content type of a released secret's plaintext, and `typ` of the JWS inside it: a JWT signed by the operator's
 * result key whose `data` maps each Secret key to its value's exact bytes in standard base64 (as in `Secret.data`).
 */
export const RELEASED_SECRET_TYPE = "trustgate-released-secret+jwt";

/** Who releases what to whom: the guest checks each claim before it writes a byte. */
export interface ReleaseContext {
  issuer: string;
  /** `namespace/name` of the ConfidentialVM. */
  subject: string;
  /** The Secret's name: the guest refuses a release under another name. */
  secretName: string;
  /** The challenge of the result the release follows. */
  nonce: string;
  signingKey: StoredSigningKey;
  now: Date;
}

/** The claims of a released secret's JWS. */
export interface ReleasedSecretClaims {
  iss: string;
  sub: string;
  iat: number;
  name: string;
  nonce: string;
  /** RFC 7638 thumbprint of the guest key it is sealed to. */
  jkt: string;
  data: Record<string, string>;
}

/**
 * A Secret's data signed by the operator (ES256, `kid` from its JWKS) and then sealed to the attested guest key
 * (ECDH-ES+A256KW, A256GCM): only the guest holding the private half can read it, and the guest accepts only what
 * the operator signed for its CVM, its key and this Secret (anyone holding the guest's public key could seal data
 * to it; nobody else can sign it). The JWE's `kid` names the guest key's thumbprint.
 */
export async function sealSecretForGuest(
  data: Readonly<Record<string, Uint8Array>>,
  guestPublicJwk: { kty: "EC"; crv: "P-256"; x: string; y: string },
  guestKeyThumbprint: string,
  release: ReleaseContext,
): Promise<string> {
  const encoded = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [
      k,
      Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64"),
    ]),
  );
  const signed = await new SignJWT({
    name: release.secretName,
    nonce: release.nonce,
    jkt: guestKeyThumbprint,
    data: encoded,
  })
    .setProtectedHeader({ alg: "ES256", kid: release.signingKey.kid, typ: RELEASED_SECRET_TYPE })
    .setIssuer(release.issuer)
    .setSubject(release.subject)
    .setIssuedAt(Math.floor(release.now.getTime() / 1000))
    .sign(await signingKeyObject(release.signingKey));
  const key = await importJWK({ ...guestPublicJwk, alg: "ECDH-ES+A256KW" } satisfies JWK, "ECDH-ES+A256KW");
  return new CompactEncrypt(new TextEncoder().encode(signed))
    .setProtectedHeader({
      alg: "ECDH-ES+A256KW",
      enc: "A256GCM",
      kid: guestKeyThumbprint,
      cty: RELEASED_SECRET_TYPE,
    })
    .encrypt(key);
}
