/**
 * NRAS detached EATs (v3): `[["JWT", <overall>], {"GPU-0": <detached JWT>, ...}]`, every JWT ES384 with header
 * {kid, alg}. The overall token's `submods[name]` is `["DIGEST", ["SHA-256", hex(SHA-256(<detached JWT text>))]]`.
 * `parseDetachedEat` and `submodDigestErrors` are pure (they work on NVIDIA's real samples without their keys);
 * `verifyNrasEat` also checks every signature (jose, key by kid), issuer, iat/nbf/exp and the nonce.
 */
import { createHash } from "node:crypto";
import { errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { EvidenceError, type VerificationError } from "../../types.ts";

export const NRAS_PRODUCTION_ISSUER = "https://nras.attestation.nvidia.com";
/** Longer tokens or more submods than NRAS ever sends are refused unparsed. */
const MAX_JWT_LENGTH = 65_536;
const MAX_SUBMODS = 64;
const SUBMOD_NAME = /^(GPU|SWITCH)-\d{1,2}$/;
const CLOCK_TOLERANCE_S = 60;

export interface DetachedEat {
  overall: string;
  /** Submodule name (GPU-0, SWITCH-0, ...) → detached JWT text. */
  submods: Record<string, string>;
}

export interface VerifiedEat {
  overall: JWTPayload;
  submods: Record<string, JWTPayload>;
}

function malformed(message: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `NRAS token: ${message}`);
}

function jwtText(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length > MAX_JWT_LENGTH || !/^[\w-]+\.[\w-]+\.[\w-]*$/.test(value))
    throw malformed(`${what} is not a compact JWT`);
  return value;
}

/** Checks the detached-EAT layout; accepts the JSON value or its text. */
export function parseDetachedEat(value: unknown): DetachedEat {
  let document = value;
  if (typeof value === "string") {
    try {
      document = JSON.parse(value) as unknown;
    } catch {
      throw malformed("not JSON");
    }
  }
  if (!Array.isArray(document) || document.length !== 2)
    throw malformed('not a [["JWT", overall], {submods}] array');
  const [head, detached] = document as unknown[];
  if (!Array.isArray(head) || head.length !== 2 || head[0] !== "JWT")
    throw malformed('the first element is not ["JWT", <token>]');
  if (typeof detached !== "object" || detached === null || Array.isArray(detached))
    throw malformed("the second element is not an object of detached tokens");
  const entries = Object.entries(detached as Record<string, unknown>);
  if (entries.length === 0 || entries.length > MAX_SUBMODS)
    throw malformed(`holds ${entries.length} submodules`);
  const submods: Record<string, string> = {};
  for (const [name, token] of entries) {
    if (!SUBMOD_NAME.test(name))
      throw malformed(`submodule name ${JSON.stringify(name.slice(0, 40))} is not GPU-n or SWITCH-n`);
    submods[name] = jwtText(token, name);
  }
  return { overall: jwtText(head[1], "the overall token"), submods };
}

function payloadOf(jwt: string, what: string): Record<string, unknown> {
  const part = jwt.split(".")[1] ?? "";
  try {
    const payload = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
    if (typeof payload === "object" && payload !== null && !Array.isArray(payload))
      return payload as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw malformed(`${what} has no JSON claims`);
}

/** The overall token's submods digests against the detached tokens (no signature checked). */
export function submodDigestErrors(eat: DetachedEat): VerificationError[] {
  const claimed = payloadOf(eat.overall, "the overall token")["submods"];
  if (typeof claimed !== "object" || claimed === null || Array.isArray(claimed))
    return [{ code: "EvidenceMalformed", message: "NRAS token: the overall token has no submods claim" }];
  const errors: VerificationError[] = [];
  const digests = claimed as Record<string, unknown>;
  for (const name of new Set([...Object.keys(digests), ...Object.keys(eat.submods)])) {
    const entry = digests[name];
    const token = eat.submods[name];
    if (token === undefined) {
      errors.push({
        code: "EvidenceMalformed",
        message: `NRAS token: submodule ${name} is claimed but not attached`,
      });
      continue;
    }
    const [kind, [algorithm, value] = []] = Array.isArray(entry) ? (entry as [unknown, unknown[]?]) : [];
    if (kind !== "DIGEST" || algorithm !== "SHA-256" || typeof value !== "string") {
      errors.push({
        code: "SignatureInvalid",
        message: `NRAS token: the overall token holds no SHA-256 digest for ${name}`,
      });
      continue;
    }
    const actual = createHash("sha256").update(token).digest("hex");
    if (actual !== value.toLowerCase()) {
      errors.push({
        code: "SignatureInvalid",
        message: `NRAS token: ${name} has SHA-256 ${actual}, the overall token signs ${value}`,
      });
    }
  }
  return errors;
}

export interface NrasVerifyOptions {
  /** Resolves the ES384 key by the token's kid (see nras-keys.ts). */
  key: JWTVerifyGetKey;
  now: Date;
  /** The nonce NRAS was given (hex): every token's eat_nonce. */
  nonce: string;
  issuers: readonly string[];
}

function joseFailure(error: unknown, what: string): EvidenceError {
  const message = `NRAS ${what}: ${(error as Error).message}`;
  if (error instanceof joseErrors.JWTExpired) return new EvidenceError("CollateralExpired", message);
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return new EvidenceError(error.claim === "nbf" ? "CollateralExpired" : "SignatureInvalid", message);
  }
  if (error instanceof EvidenceError) return new EvidenceError(error.code, `NRAS ${what}: ${error.message}`);
  if (error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JWSInvalid)
    return new EvidenceError("EvidenceMalformed", message);
  return new EvidenceError("SignatureInvalid", message);
}

async function verifyToken(jwt: string, what: string, options: NrasVerifyOptions): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(jwt, options.key, {
      algorithms: ["ES384"],
      issuer: [...options.issuers],
      currentDate: options.now,
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: ["iat", "exp", "eat_nonce"],
    }));
  } catch (error) {
    throw joseFailure(error, what);
  }
  const iat = payload.iat ?? 0;
  if (iat > options.now.getTime() / 1000 + CLOCK_TOLERANCE_S)
    throw new EvidenceError("CollateralExpired", `NRAS ${what}: issued in the future (iat ${iat})`);
  const nonce = payload["eat_nonce"];
  if (typeof nonce !== "string" || nonce.toLowerCase() !== options.nonce.toLowerCase()) {
    throw new EvidenceError(
      "NonceMismatch",
      `NRAS ${what}: eat_nonce ${JSON.stringify(nonce)} differs from the expected ${options.nonce}`,
    );
  }
  return payload;
}

/** Verifies the overall token and every detached token; throws EvidenceError with the failing code. */
export async function verifyNrasEat(eat: DetachedEat, options: NrasVerifyOptions): Promise<VerifiedEat> {
  const overall = await verifyToken(eat.overall, "overall token", options);
  const [digestError] = submodDigestErrors(eat);
  if (digestError !== undefined) throw new EvidenceError(digestError.code, digestError.message);
  const submods: Record<string, JWTPayload> = {};
  for (const [name, jwt] of Object.entries(eat.submods))
    submods[name] = await verifyToken(jwt, name, options);
  return { overall, submods };
}
