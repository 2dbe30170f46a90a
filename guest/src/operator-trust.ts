/**
 * What the guest trusts of the operator, and the check it makes before it trusts anything it receives: the
 * operator's JWKS comes from a file in the measured image (default /etc/trustgate/operator-jwks.json), never from
 * cloud-init, which the host can rewrite; the signed result must be the operator's, for this CVM, for the key of
 * the guest's last answer, not contraindicated and not expired.
 */
import { readFile } from "node:fs/promises";
import { createLocalJWKSet, jwtVerify, type JWK, type JWTPayload, type JWTVerifyOptions } from "jose";
import {
  RESULT_TOKEN_TYPE,
  type AttestationResultClaims,
} from "../../operator/src/attestation/result/result-token.ts";
import type { GuestKey } from "./guest-key.ts";

/** What the guest trusts: the operator's JWKS (pinned in the measured image, not cloud-init) and its own CVM. */
export interface OperatorTrust {
  jwks: { keys: JWK[] };
  /** `namespace/name` of the guest's ConfidentialVM. */
  subject: string;
}

/** The claims of a JWT the operator signed (ES256, a key of the pinned JWKS) for this CVM (`sub`); throws otherwise. */
export async function verifyOperatorJwt<T extends JWTPayload>(
  jwt: string,
  trust: OperatorTrust,
  options: Pick<JWTVerifyOptions, "typ" | "requiredClaims" | "currentDate">,
): Promise<T> {
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(trust.jwks), {
    ...options,
    algorithms: ["ES256"],
    subject: trust.subject,
  });
  return payload as T;
}

export const DEFAULT_OPERATOR_JWKS_FILE = "/etc/trustgate/operator-jwks.json";

/** Reads a pinned JWKS; undefined when the file does not exist (the guest then opens no secret). */
export async function loadOperatorJwks(path: string): Promise<{ keys: JWK[] } | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read the operator JWKS ${path}: ${(error as Error).message}`, { cause: error });
  }
  const parsed = JSON.parse(text) as { keys?: unknown };
  if (!Array.isArray(parsed.keys)) throw new Error(`${path} is not a JWKS (no "keys" array)`);
  return { keys: parsed.keys as JWK[] };
}

/** Whether `token` is the operator's standing result for this CVM and this guest key; the reason when not. */
export async function checkOwnResult(
  token: string | undefined,
  key: GuestKey,
  trust: OperatorTrust,
  now: Date,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (token === undefined || token === "") return { ok: false, reason: "no signed result yet" };
  let claims: AttestationResultClaims;
  try {
    claims = await verifyOperatorJwt<AttestationResultClaims>(token, trust, {
      typ: RESULT_TOKEN_TYPE,
      currentDate: now,
      requiredClaims: ["iss", "sub", "iat", "exp", "nonce", "cnf"],
    });
  } catch (error) {
    return {
      ok: false,
      reason: `the result is not the operator's for this CVM: ${(error as Error).message}`,
    };
  }
  if (claims.cnf.jkt !== key.thumbprint)
    return {
      ok: false,
      reason: `the result is for key ${claims.cnf.jkt}, not this guest's ${key.thumbprint}`,
    };
  if (claims["ear.status"] === "contraindicated")
    return { ok: false, reason: "the result is contraindicated" };
  return { ok: true };
}
