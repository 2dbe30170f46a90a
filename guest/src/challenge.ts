/** Whether to answer the CVM's current challenge: a pure decision, table-tested in challenge.test.ts. */
import type { ConfidentialVMStatusChallenge } from "../../operator/src/api/v1alpha1/generated/types.ts";

export type ChallengeDecision =
  | { action: "answer"; nonce: string; expiresAt: Date }
  | { action: "wait"; reason: "NoChallenge" | "AlreadyAnswered" | "Expired" | "Malformed"; message: string };

const NONCE = /^[0-9a-f]{64}$/;

/**
 * Answer a challenge once: not when this process already answered its nonce, not after it expired (by this
 * guest's clock), not when it is malformed. A new nonce is a new challenge. A restarted guest has lost the key
 * of any earlier answer, so it answers a still-open challenge again, with a new key.
 */
export function decideChallenge(
  challenge: Partial<ConfidentialVMStatusChallenge> | undefined,
  answered: ReadonlySet<string>,
  now: Date,
): ChallengeDecision {
  if (challenge?.nonce === undefined)
    return { action: "wait", reason: "NoChallenge", message: "no challenge" };
  const { nonce } = challenge;
  if (!NONCE.test(nonce))
    return {
      action: "wait",
      reason: "Malformed",
      message: "the challenge nonce is not 64 lowercase hex digits",
    };
  if (answered.has(nonce))
    return { action: "wait", reason: "AlreadyAnswered", message: `nonce ${nonce} is already answered` };
  const expiresAt = new Date(challenge.expiresAt ?? "");
  if (Number.isNaN(expiresAt.getTime()))
    return { action: "wait", reason: "Malformed", message: "the challenge has no valid expiresAt" };
  if (expiresAt.getTime() <= now.getTime())
    return {
      action: "wait",
      reason: "Expired",
      message: `the challenge expired at ${expiresAt.toISOString()}`,
    };
  return { action: "answer", nonce, expiresAt };
}

/** The nonces answered by this process, oldest forgotten first. */
export class AnsweredNonces {
  readonly #limit: number;
  readonly #nonces = new Set<string>();

  constructor(limit = 64) {
    this.#limit = limit;
  }

  get set(): ReadonlySet<string> {
    return this.#nonces;
  }

  add(nonce: string): void {
    this.#nonces.add(nonce);
    if (this.#nonces.size > this.#limit) {
      const oldest = this.#nonces.values().next();
      if (oldest.done !== true) this.#nonces.delete(oldest.value);
    }
  }
}
