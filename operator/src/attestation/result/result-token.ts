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
  /** UID of the VirtualMachineInstance the result holds for. */
  "trustgate.vmi"?: string;
  /**
   * The GPUs allocated to that VM by the kubelet's device plugin, as its host reports them (host-asserted):
   * `pciAddresses` only when `state` is Observed.
   */
  "trustgate.gpuAllocation"?: { state: string; pciAddresses?: string[] };
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
  vmInstanceUid?: string;
  gpuAllocation?: NonNullable<AttestationResultClaims["trustgate.gpuAllocation"]>;
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
    ...(input.vmInstanceUid === undefined ? {} : { "trustgate.vmi": input.vmInstanceUid }),
    ...(input.gpuAllocation === undefined ? {} : { "trustgate.gpuAllocation": input.gpuAllocation }),
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

/** What a client expects of the result besides its signature: whose it is and what it appraised. */
export interface ResultExpectations {
  now: Date;
  issuer?: string;
  /** `namespace/name` of the ConfidentialVM the client means to talk to. */
  subject?: string;
  /** RFC 7638 thumbprint (base64url) of the key the client will encrypt to (`cnf.jkt`). */
  jkt?: string;
  /** The TEE the client expects (`tdx` | `snp`). */
  tee?: string;
  /** UID of the AttestationPolicy the client requires. */
  policyUid?: string;
}

/** The first claim that is not what the client expects, as a reason; undefined when all are. */
function unexpectedClaim(claims: AttestationResultClaims, expected: ResultExpectations): string | undefined {
  const checks: [string, string | undefined, string | undefined][] = [
    ["subject", expected.subject, claims.sub],
    ["cnf.jkt", expected.jkt, claims.cnf.jkt],
    ["TEE", expected.tee, claims["trustgate.tee"]?.type],
    ["policy uid", expected.policyUid, claims["trustgate.policy"]?.uid],
  ];
  for (const [name, want, got] of checks) {
    if (want !== undefined && want !== got)
      return `the result's ${name} is ${got === undefined ? "absent" : JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
  }
  return undefined;
}

/**
 * What a client checks before sending a byte of data: signature by a key of the operator's JWKS, the token type,
 * issuer (when given), not expired as of `now`, an affirming result, and, when given, that it is the result of the
 * expected CVM (subject), for the expected key (cnf.jkt), TEE and policy: a valid token of another CVM is refused.
 */
export async function checkAttestationResult(
  token: string,
  jwks: { keys: JWK[] },
  options: ResultExpectations,
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
  const unexpected = unexpectedClaim(claims, options);
  if (unexpected !== undefined) return { ok: false, reason: unexpected, claims };
  if (claims["ear.status"] !== "affirming") {
    return {
      ok: false,
      reason: `attestation result is ${claims["ear.status"]}, not affirming`,
      claims,
    };
  }
  return { ok: true, claims };
}
