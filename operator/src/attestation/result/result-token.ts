import { createLocalJWKSet, jwtVerify, SignJWT, type JWK, type JWTPayload } from "jose";
import type { StoredSigningKey } from "./signing-keys.ts";
import { signingKeyObject } from "./signing-keys.ts";
import type { Claims, Verdict } from "../types.ts";

export const RESULT_TOKEN_TYPE = "trustgate-attestation-result+jwt";

/** The signed attestation result (docs/attestation-handshake.md#4-result-token), an EAR-style JWT. */
export interface AttestationResultClaims extends JWTPayload {
  iss: string;
  sub: string;
  iat: number;
  exp: number;
  nonce: string;
  cnf: { jkt: string };
  "ear.status": Verdict;
  submods: Record<string, { "ear.status": Verdict; claims: Claims }>;
  /** The TEE appraised (and, for SNP, the product). */
  "trustgate.tee"?: { type: string; product?: string };
  /** The AttestationPolicy appraised against. */
  "trustgate.policy"?: { name: string; uid?: string; generation?: number };
}

export interface ResultInput {
  issuer: string;
  /** `namespace/name` of the ConfidentialVM. */
  subject: string;
  nonce: string;
  /** RFC 7638 thumbprint (base64url) of the attested guest key. */
  guestKeyThumbprint: string;
  verdict: Verdict;
  submods: AttestationResultClaims["submods"];
  tee?: NonNullable<AttestationResultClaims["trustgate.tee"]>;
  policy?: NonNullable<AttestationResultClaims["trustgate.policy"]>;
  issuedAt: Date;
  expiresAt: Date;
}

export async function signAttestationResult(input: ResultInput, key: StoredSigningKey): Promise<string> {
  const payload = {
    nonce: input.nonce,
    cnf: { jkt: input.guestKeyThumbprint },
    "ear.status": input.verdict,
    submods: input.submods,
    ...(input.tee === undefined ? {} : { "trustgate.tee": input.tee }),
    ...(input.policy === undefined ? {} : { "trustgate.policy": input.policy }),
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: RESULT_TOKEN_TYPE })
    .setIssuer(input.issuer)
    .setSubject(input.subject)
    .setIssuedAt(Math.floor(input.issuedAt.getTime() / 1000))
    .setExpirationTime(Math.floor(input.expiresAt.getTime() / 1000))
    .sign(await signingKeyObject(key));
}

export type TokenCheck =
  | { ok: true; claims: AttestationResultClaims }
  | { ok: false; reason: string; claims?: AttestationResultClaims };

/**
 * What a client checks before sending a byte of data: signature by a key of the operator's JWKS,
 * the token type, issuer (when given), not expired as of `now`, and an affirming result.
 */
export async function checkAttestationResult(
  token: string,
  jwks: { keys: JWK[] },
  options: { now: Date; issuer?: string },
): Promise<TokenCheck> {
  let claims: AttestationResultClaims;
  try {
    const verified = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: ["ES256"],
      typ: RESULT_TOKEN_TYPE,
      currentDate: options.now,
      requiredClaims: ["iss", "sub", "iat", "exp", "nonce", "cnf"],
      ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
    });
    claims = verified.payload as AttestationResultClaims;
  } catch (error) {
    return { ok: false, reason: `token rejected: ${(error as Error).message}` };
  }
  if (claims["ear.status"] !== "affirming") {
    return {
      ok: false,
      reason: `attestation result is ${claims["ear.status"]}, not affirming`,
      claims,
    };
  }
  return { ok: true, claims };
}
