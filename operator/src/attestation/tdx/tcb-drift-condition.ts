/** The ConfidentialVM condition `TcbDriftSoon` that a TDX TCB drift result (tcb-drift.ts) stands for. */
import {
  CONDITION_TCB_DRIFT_SOON,
  REASON_EARLY_TCB_INFO_UNUSABLE,
  REASON_NO_TCB_DRIFT,
  REASON_TCB_DRIFT_SOON,
} from "../../api/v1alpha1/confidential-vm-conditions.ts";
import type { DesiredCondition } from "../../runtime/conditions.ts";
import type { TcbDrift } from "./tcb-drift.ts";

/**
 * True (`TcbDriftSoon`) when the early evaluation drops the TD, else False: `NoTcbDrift`, or
 * `EarlyTcbInfoUnusable` when the early TCB info could not be compared. The message is the drift's reason.
 */
export function tcbDriftCondition(drift: TcbDrift): DesiredCondition {
  if (drift.drifting) {
    return {
      type: CONDITION_TCB_DRIFT_SOON,
      status: "True",
      reason: REASON_TCB_DRIFT_SOON,
      message: drift.reason,
    };
  }
  return {
    type: CONDITION_TCB_DRIFT_SOON,
    status: "False",
    reason: drift.compared ? REASON_NO_TCB_DRIFT : REASON_EARLY_TCB_INFO_UNUSABLE,
    message: drift.reason,
  };
}
