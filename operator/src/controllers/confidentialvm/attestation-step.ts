import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import type { Freshness } from "../../attestation/policy/compiled-policy.ts";
import { WARNING_CODES } from "../../attestation/types.ts";

export type AttestationStep =
  /** No challenge outstanding and nothing due: look again after `afterMs`. */
  | { kind: "wait"; afterMs: number }
  /** Write a fresh challenge (none yet, re-attestation due, or the last one expired unanswered). */
  | { kind: "challenge"; why: string }
  /** The guest answered the current challenge in time: verify and appraise its evidence. */
  | { kind: "appraise" }
  /**
   * `status.evidence` was written for another nonce than the open challenge and is not the evidence of the
   * last result: a replayed or stale bundle. It is never appraised; the challenge stays open until `afterMs`.
   */
  | { kind: "reject"; reason: "NonceMismatch"; message: string; afterMs: number };

/** How soon a CVM whose last appraisal failed is challenged again (at most its reattestInterval). */
export const RETRY_AFTER_FAILURE_MS = 60_000;

function time(value: string | undefined): number {
  const t = Date.parse(value ?? "");
  return Number.isNaN(t) ? 0 : t;
}

/**
 * What the attestation handshake (docs/attestation-handshake.md) does next for a CVM whose VM runs on a validated
 * host. Every challenge is answered at most once: evidence for any other nonce is never appraised.
 */
export function nextAttestationStep(
  cvm: ConfidentialVM,
  freshness: Freshness,
  now: Date,
  policy?: PolicyIdentity,
): AttestationStep {
  const status = cvm.status ?? {};
  const challenge = status.challenge;
  const nowMs = now.getTime();
  if (challenge !== undefined) {
    const expires = time(challenge.expiresAt);
    if (status.evidence?.nonce === challenge.nonce) {
      return expires > nowMs
        ? { kind: "appraise" }
        : { kind: "challenge", why: "evidence arrived after the challenge expired" };
    }
    if (expires <= nowMs) return { kind: "challenge", why: "the challenge expired unanswered" };
    const answered = status.evidence?.nonce;
    if (answered !== undefined && answered !== status.attestation?.nonce) {
      return {
        kind: "reject",
        reason: "NonceMismatch",
        message:
          `status.evidence answers nonce ${answered}, not the open challenge ${challenge.nonce} ` +
          `(a replayed or stale bundle is never appraised); waiting for an answer until ${challenge.expiresAt}`,
        afterMs: expires - nowMs,
      };
    }
    return { kind: "wait", afterMs: expires - nowMs };
  }
  const attestation = status.attestation;
  if (attestation?.verifiedAt === undefined) return { kind: "challenge", why: "not attested yet" };
  const changed = policy === undefined ? undefined : policyChange(attestation, policy);
  if (changed !== undefined) return { kind: "challenge", why: changed };
  const instance = instanceChange(cvm);
  if (instance !== undefined) return { kind: "challenge", why: instance };
  const allocation = allocationChange(cvm);
  if (allocation !== undefined) return { kind: "challenge", why: allocation };
  // A failed appraisal is retried soon, not a reattestInterval later: whoever wrote the bad bundle (a broken
  // guest, or someone racing it) must not keep an honest CVM unattested for an hour.
  const failed = attestation.verdict === "contraindicated";
  const retryMs = failed
    ? Math.min(freshness.reattestIntervalMs, RETRY_AFTER_FAILURE_MS)
    : freshness.reattestIntervalMs;
  const dueAt = Math.min(time(attestation.verifiedAt) + retryMs, time(attestation.expiresAt));
  if (dueAt <= nowMs)
    return { kind: "challenge", why: failed ? "retrying after a failed appraisal" : "re-attestation due" };
  return { kind: "wait", afterMs: dueAt - nowMs };
}

/** The AttestationPolicy a result must have been appraised against. */
export interface PolicyIdentity {
  name: string;
  uid?: string;
  generation?: number;
}

/** Why a result no longer answers to the CVM's policy (another policyRef, a recreated policy, an edit), if it does not. */
function policyChange(
  a: NonNullable<NonNullable<ConfidentialVM["status"]>["attestation"]>,
  policy: PolicyIdentity,
): string | undefined {
  if (a.policyName !== policy.name)
    return `the result was appraised against AttestationPolicy ${a.policyName ?? "(unknown)"}, the ConfidentialVM now names ${policy.name}`;
  if (policy.uid !== undefined && a.policyUid !== policy.uid)
    return `AttestationPolicy ${policy.name} was replaced (uid ${a.policyUid ?? "(unknown)"} → ${policy.uid})`;
  if (policy.generation !== undefined && a.policyGeneration !== policy.generation)
    return `AttestationPolicy ${policy.name} changed (generation ${a.policyGeneration ?? "?"} → ${policy.generation})`;
  return undefined;
}

/** Why the last result belongs to another VM instance than the one running, if it does (a restart, a relaunch). */
function instanceChange(cvm: ConfidentialVM): string | undefined {
  const running = cvm.status?.vmInstanceUid;
  const appraised = cvm.status?.attestation?.vmInstanceUid;
  if (running === undefined || appraised === running) return undefined;
  return `the VM instance changed (the result is of VMI ${appraised ?? "(unknown)"}, VMI ${running} runs now)`;
}

/**
 * Why the last result no longer names the VM's GPUs, if it does not: the host's report of them became known or
 * changed since (appraise again, so the signed result names them), or is now refused (appraise again, to fail closed).
 */
function allocationChange(cvm: ConfidentialVM): string | undefined {
  const current = cvm.status?.gpuAllocation;
  const appraised = cvm.status?.attestation?.gpuAllocation;
  if (current === undefined || appraised === undefined) return undefined;
  if (current.state === "Refused" && appraised.state !== "Refused")
    return `the host's GPU allocation is refused since the last result: ${current.message ?? ""}`;
  if (current.state !== "Observed") return undefined;
  const now = (cvm.status?.gpus ?? []).flatMap((g) => (g.pciAddress === undefined ? [] : [g.pciAddress]));
  const then = appraised.pciAddresses ?? [];
  if (appraised.state === "Observed" && [...now].sort().join() === [...then].sort().join()) return undefined;
  return appraised.state === "Observed"
    ? `the GPUs allocated to the VM changed (${then.join(", ")} → ${now.join(", ")})`
    : `the GPUs allocated to the VM are known now (${now.join(", ")}; the result was appraised with them ${appraised.state})`;
}

/** A note on a standing result that names no GPUs although the VM has some. */
function allocationNote(a: NonNullable<NonNullable<ConfidentialVM["status"]>["attestation"]>): string {
  const allocation = a.gpuAllocation;
  if (allocation === undefined || allocation.state === "Observed") return "";
  return `; GPU allocation ${allocation.state}: the result names no PCI addresses${allocation.message === undefined ? "" : ` (${allocation.message})`}`;
}

/**
 * Whether the last result still stands: a tolerated verdict with no untolerated warning, not expired, and, when
 * the CVM's policy is given, appraised against exactly that policy (name, uid, generation): after any policy change
 * nothing stands until fresh evidence is appraised.
 */
export function resultStands(
  cvm: ConfidentialVM,
  now: Date,
  policy?: PolicyIdentity,
): { ok: boolean; reason: string; message: string } {
  const a = cvm.status?.attestation;
  if (a?.verdict === undefined)
    return { ok: false, reason: "NotAttested", message: "no attestation result yet" };
  const changed = policy === undefined ? undefined : policyChange(a, policy);
  if (changed !== undefined) return { ok: false, reason: "PolicyChanged", message: changed };
  const instance = instanceChange(cvm);
  if (instance !== undefined) return { ok: false, reason: "InstanceChanged", message: instance };
  const untolerated = a.violations?.find((v) => (WARNING_CODES as readonly string[]).includes(v.code));
  if (a.verdict === "contraindicated" || untolerated !== undefined) {
    const first = untolerated ?? a.violations?.[0];
    return {
      ok: false,
      reason: first?.code ?? "Contraindicated",
      message: (a.violations ?? []).map((v) => `${v.code}: ${v.message}`).join("; ") || "contraindicated",
    };
  }
  if (time(a.expiresAt) <= now.getTime())
    return { ok: false, reason: "ResultExpired", message: `result expired at ${a.expiresAt ?? "?"}` };
  const warnings = (a.warnings ?? []).map((w) => `${w.code}: ${w.message}`).join("; ");
  return {
    ok: true,
    reason: a.verdict === "affirming" ? "Affirming" : "AffirmingWithWarnings",
    message: `attested at ${a.verifiedAt ?? "?"}, valid until ${a.expiresAt ?? "?"}${allocationNote(a)}${warnings === "" ? "" : `; ${warnings}`}`,
  };
}
