/**
 * TcbDriftSoon on a ConfidentialHost: the TCB is the platform's, so when Intel's next TCB evaluation will rate the
 * TDs on a host worse (their own TcbDriftSoon, set by the attestation handshake), the host says so too: the platform
 * team patches or re-provisions the host, not each CVM.
 */
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import {
  CONDITION_TCB_DRIFT_SOON,
  REASON_NO_TCB_DRIFT,
  REASON_TCB_DRIFT_SOON,
} from "../../api/v1alpha1/confidential-vm-conditions.ts";
import type { DesiredCondition } from "../../runtime/conditions.ts";
import { objectKey } from "../../runtime/controller.ts";

/** The host's TcbDriftSoon from its CVMs', or undefined when none of them has been rated (no condition to show). */
export function hostTcbDriftCondition(cvmsOnHost: readonly ConfidentialVM[]): DesiredCondition | undefined {
  const rated = cvmsOnHost
    .map((cvm) => ({ cvm, drift: cvm.status?.conditions?.find((c) => c.type === CONDITION_TCB_DRIFT_SOON) }))
    .filter((entry) => entry.drift !== undefined)
    .sort((a, b) => objectKey(a.cvm).localeCompare(objectKey(b.cvm)));
  if (rated.length === 0) return undefined;
  const drifting = rated.filter((entry) => entry.drift?.status === "True");
  const first = drifting[0];
  if (first === undefined) {
    return {
      type: CONDITION_TCB_DRIFT_SOON,
      status: "False",
      reason: REASON_NO_TCB_DRIFT,
      message: `Intel's next TCB evaluation rates none of the ${String(rated.length)} rated TDs on this host worse`,
    };
  }
  return {
    type: CONDITION_TCB_DRIFT_SOON,
    status: "True",
    reason: REASON_TCB_DRIFT_SOON,
    message: `${String(drifting.length)} of ${String(rated.length)} rated TDs on this host: ${objectKey(first.cvm)}: ${first.drift?.message ?? ""}`,
  };
}
