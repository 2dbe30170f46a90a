/**
 * When the guest sets the GPUs' CC ready state (pure). In CC mode the driver refuses CUDA work until the GPUs are
 * set ready; NVIDIA's verifiers set them ready only after a successful attestation, and so does the guest: READY
 * only on the operator's signed result for the guest's own key and the challenge it answered with it (verified
 * against the pinned JWKS: ES256, this CVM, not expired, affirming or a tolerated warning), never on its own say-so
 * or on anything unsigned. The result it set READY on (its backing) holds the GPUs ready until it expires.
 *
 * NOT READY again when re-attestation fails (a contraindicated result for the current key and challenge: believed
 * unsigned, since failing closed gives whoever forges it nothing the host could not have by withholding results)
 * or when the backing expires with no newer verified result for the current key. A new key alone does not reset:
 * the driver never accepts READY again after a reset until it is reloaded (the CVM reboots), so a reset at every
 * periodic re-attestation would take the GPUs away for good; the backing's expiry bounds how long a re-attestation
 * may take instead.
 */
import type { AttestationResultClaims } from "../../../operator/src/attestation/result/result-token.ts";
import { notOwnResult, type OwnAnswer } from "../operator-trust.ts";

export type DriverReadyState = "ready" | "not-ready" | "unknown";

/** The verified result the GPUs are held ready on. */
export interface ReadyBacking {
  jkt: string;
  nonce: string;
  expiresAtMs: number;
}

export interface ReadinessInput {
  nowMs: number;
  /** What the driver reports now. */
  driver: DriverReadyState;
  backing?: ReadyBacking;
  /** The guest's last answer; undefined in a guest process that has not answered yet. */
  own?: OwnAnswer;
  /** `status.attestation.token`, verified (pinned key, type, this CVM, not expired), or why it does not verify. */
  token: { ok: true; claims: AttestationResultClaims } | { ok: false; reason: string };
  /** `status.attestation` as written (unsigned). */
  reported?: { verdict?: string; nonce?: string; keyThumbprint?: string };
}

export type ReadinessDecision =
  | { action: "set-ready"; backing: ReadyBacking; reason: string }
  | { action: "set-not-ready"; reason: string }
  | { action: "keep"; backing?: ReadyBacking; reason: string };

const backingOf = (claims: AttestationResultClaims): ReadyBacking => ({
  jkt: claims.cnf.jkt,
  nonce: claims.nonce,
  expiresAtMs: claims.exp * 1000,
});

const iso = (ms: number): string => new Date(ms).toISOString();

/** What the GPUs should be, with the backing that holds them ready. */
function wanted(
  input: ReadinessInput,
): { ready: true; backing: ReadyBacking; reason: string } | { ready: false; reason: string } {
  const { own, token, reported, backing, nowMs } = input;
  if (
    own !== undefined &&
    reported?.verdict === "contraindicated" &&
    reported.nonce === own.nonce &&
    reported.keyThumbprint === own.key.thumbprint
  )
    return {
      ready: false,
      reason: `re-attestation failed: the operator's result for challenge ${own.nonce} is contraindicated`,
    };
  const notOwn = token.ok
    ? own === undefined
      ? "this guest has not answered yet"
      : notOwnResult(token.claims, own)
    : token.reason;
  if (token.ok && notOwn === undefined)
    return {
      ready: true,
      backing: backingOf(token.claims),
      reason: `the operator's signed result for this guest's key and challenge ${token.claims.nonce} verifies`,
    };
  // A guest restarted by systemd lost its key but not the driver's state: it keeps the standing result's word.
  if (own === undefined && backing === undefined && input.driver === "ready" && token.ok) {
    const verdict = token.claims["ear.status"];
    if (verdict === "affirming" || verdict === "warning")
      return {
        ready: true,
        backing: backingOf(token.claims),
        reason: `kept ready on the operator's standing result (challenge ${token.claims.nonce}) until it expires`,
      };
  }
  if (backing !== undefined && backing.expiresAtMs > nowMs)
    return {
      ready: true,
      backing,
      reason: `the result for challenge ${backing.nonce} stands until ${iso(backing.expiresAtMs)} (${notOwn})`,
    };
  if (backing !== undefined)
    return {
      ready: false,
      reason: `the result for challenge ${backing.nonce} expired at ${iso(backing.expiresAtMs)} with no newer one for this guest (${notOwn})`,
    };
  return { ready: false, reason: `no verified result for this guest: ${notOwn}` };
}

export function decideReadiness(input: ReadinessInput): ReadinessDecision {
  const want = wanted(input);
  if (want.ready)
    return input.driver === "ready"
      ? { action: "keep", backing: want.backing, reason: want.reason }
      : { action: "set-ready", backing: want.backing, reason: want.reason };
  // "unknown" is reset too: failing closed costs nothing the guest had.
  return input.driver === "not-ready"
    ? { action: "keep", reason: want.reason }
    : { action: "set-not-ready", reason: want.reason };
}
