import type { Condition, ConfidentialVMStatus } from "../../api/v1alpha1/generated/types.ts";
import type { DesiredCondition } from "../../runtime/conditions.ts";
import * as r from "../../api/v1alpha1/confidential-vm-conditions.ts";

/** Where the lifecycle reconciler stands with a CVM; "Running" means its VMI runs on the validated host. */
export type LifecycleStage = "Pending" | "Scheduling" | "Launching" | "Running" | "Degraded" | "Failed";

export interface Lifecycle {
  stage: LifecycleStage;
  /** Why the CVM is not ready, for every stage but Running. */
  reason: string;
  message: string;
}

export interface Readiness {
  phase: NonNullable<ConfidentialVMStatus["phase"]>;
  ready: DesiredCondition;
}

/**
 * The phase and the Ready condition, from the lifecycle, the handshake's Attested condition and the result's
 * expiry: Ready only while the VM runs on its validated host with an Attested, unexpired result.
 */
export function deriveReadiness(
  lifecycle: Lifecycle,
  attested: Condition | undefined,
  resultExpiresAt: string | undefined,
  now: Date,
): Readiness {
  if (lifecycle.stage !== "Running") {
    return {
      phase: lifecycle.stage,
      ready: {
        type: r.CONDITION_READY,
        status: "False",
        reason: lifecycle.reason,
        message: lifecycle.message,
      },
    };
  }
  const notReady = (reason: string, message: string): Readiness => ({
    phase: "Attesting",
    ready: { type: r.CONDITION_READY, status: "False", reason, message },
  });
  if (attested === undefined) return notReady(r.REASON_NOT_ATTESTED, "no attestation result yet");
  if (attested.status !== "True") return notReady(attested.reason, attested.message);
  const expires = Date.parse(resultExpiresAt ?? "");
  if (Number.isNaN(expires) || expires <= now.getTime())
    return notReady(r.REASON_RESULT_EXPIRED, `result expired at ${resultExpiresAt ?? "?"}`);
  return {
    phase: "Attested",
    // One message for every re-attestation, so a renewed result does not cost a lifecycle write.
    ready: {
      type: r.CONDITION_READY,
      status: "True",
      reason: r.REASON_ATTESTED,
      message: "the VM runs on a validated host and is attested",
    },
  };
}

/** The lifecycle stage a phase belongs to: Attesting and Attested are both Running. */
export function stageOfPhase(phase: ConfidentialVMStatus["phase"]): LifecycleStage | undefined {
  return phase === "Attesting" || phase === "Attested" ? "Running" : phase;
}
