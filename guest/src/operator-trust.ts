/**
 * What the guest trusts of the operator, and the check it makes before it trusts anything it receives: the
 * operator's JWKS comes from a file in the measured image (default /etc/trustgate/operator-jwks.json), never from
 * cloud-init, which the host can rewrite; the signed result must be the operator's, for this CVM, for the key and
 * the challenge of the guest's last answer, affirming (or a tolerated warning) and not expired.
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

/** A result token whose signature (a pinned key, ES256), type and subject (this CVM) verify and which has not expired. */
export type VerifiedResult = { ok: true; claims: AttestationResultClaims } | { ok: false; reason: string };

export async function verifyResultToken(
  token: string | undefined,
  trust: OperatorTrust,
  now: Date,
): Promise<VerifiedResult> {
  if (token === undefined || token === "") return { ok: false, reason: "no signed result yet" };
  try {
    const claims = await verifyOperatorJwt<AttestationResultClaims>(token, trust, {
      typ: RESULT_TOKEN_TYPE,
      currentDate: now,
      requiredClaims: ["iss", "sub", "iat", "exp", "nonce", "cnf"],
    });
    return { ok: true, claims };
  } catch (error) {
    return {
      ok: false,
      reason: `the result is not the operator's for this CVM: ${(error as Error).message}`,
    };
  }
}

/** What the guest last answered: its key and the challenge it answered with it. */
export interface OwnAnswer {
  key: Pick<GuestKey, "thumbprint">;
  nonce: string;
}

/** Why verified claims are not a standing result for `own` (its key, its challenge, a tolerated verdict); undefined when they are. */
export function notOwnResult(claims: AttestationResultClaims, own: OwnAnswer): string | undefined {
  if (claims.cnf.jkt !== own.key.thumbprint)
    return `the result is for key ${claims.cnf.jkt}, not this guest's ${own.key.thumbprint}`;
  if (claims.nonce !== own.nonce)
    return `the result answers challenge ${claims.nonce}, not the one this guest answered (${own.nonce})`;
  const verdict = claims["ear.status"];
  if (verdict !== "affirming" && verdict !== "warning")
    return `the result's verdict is ${JSON.stringify(verdict)}, neither affirming nor a tolerated warning`;
  return undefined;
}

/**
 * Whether `token` is the operator's standing result for this guest's last answer: signed by a pinned key, of this
 * CVM, not expired, for its key and the challenge it answered, affirming or a tolerated warning (the operator signs
 * no other verdict); the reason when not.
 */
export async function checkOwnResult(
  token: string | undefined,
  own: OwnAnswer,
  trust: OperatorTrust,
  now: Date,
): Promise<{ ok: true; claims: AttestationResultClaims } | { ok: false; reason: string }> {
  const verified = await verifyResultToken(token, trust, now);
  if (!verified.ok) return verified;
  const reason = notOwnResult(verified.claims, own);
  return reason === undefined ? verified : { ok: false, reason };
}
