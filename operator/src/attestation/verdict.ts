import type { TcbStatus, Verdict } from "./types.ts";

export interface VerdictInput {
  authentic: boolean;
  /** Verification errors other than policy violations (binding, nonce, chain, collateral, ...). */
  errorCount: number;
  tcbStatus: TcbStatus;
  acceptedTcbStatuses: readonly TcbStatus[];
  policyViolationCount: number;
  gpus: readonly {
    authentic: boolean;
    errorCount: number;
    revocation: "good" | "revoked" | "unchecked";
    /** Absent when the caller has no measurement appraisal to report. */
    measurements?: "match" | "mismatch" | "unchecked";
  }[];
  revocationRequired: boolean;
  /** `spec.gpu.requireRimMatch`: unchecked measurements are contraindicated, else only tolerated (warning). */
  rimRequired?: boolean;
  /** Reasons an otherwise affirming result is only a warning (e.g. MeasurementsUnpinned, BindingUnchecked). */
  warningCount?: number;
}

/**
 * docs/evidence-bundle.md#verdicts: affirming when everything is authentic, the TCB status accepted and the policy
 * satisfied; warning when authentic but only tolerated (a non-UpToDate TCB status the policy lists, or
 * revocation or GPU measurements left unchecked where the policy does not require them); contraindicated otherwise.
 */
export function decideVerdict(input: VerdictInput): Verdict {
  const gpusOk = input.gpus.every(
    (g) => g.authentic && g.errorCount === 0 && g.revocation !== "revoked" && g.measurements !== "mismatch",
  );
  if (!input.authentic || input.errorCount > 0 || input.policyViolationCount > 0 || !gpusOk)
    return "contraindicated";
  if (!input.acceptedTcbStatuses.includes(input.tcbStatus)) return "contraindicated";
  const uncheckedRevocation = input.gpus.some((g) => g.revocation === "unchecked");
  if (uncheckedRevocation && input.revocationRequired) return "contraindicated";
  const uncheckedMeasurements = input.gpus.some((g) => g.measurements === "unchecked");
  if (uncheckedMeasurements && input.rimRequired === true) return "contraindicated";
  const warned = (input.warningCount ?? 0) > 0;
  if (input.tcbStatus !== "UpToDate" || uncheckedRevocation || uncheckedMeasurements || warned)
    return "warning";
  return "affirming";
}
