import type { AttestationPolicy } from "../../api/v1alpha1/generated/types.ts";
import * as r from "../../api/v1alpha1/attestation-policy-conditions.ts";
import { measurementsPinned, type TeeType } from "../../attestation/appraise.ts";
import { compilePolicy } from "../../attestation/policy/compiled-policy.ts";
import type { DesiredCondition } from "../../runtime/conditions.ts";

const TEES: readonly TeeType[] = ["tdx", "snp"];
const PIN_FIELDS: Record<TeeType, string> = { tdx: "tdx.mrTd, rtmr0-3 or mrSeam", snp: "snp.measurement" };

/**
 * The conditions an AttestationPolicy's status shows, from the same compilation the attestation uses: Ready (the
 * policy passes the CRD's checks, so CVMs under it can be appraised) and MeasurementsPinned (for each TEE, whether
 * the policy pins what a guest booted; without a pin, CVMs of that TEE are not Attested unless the policy opts in).
 */
export function policyConditions(policy: AttestationPolicy): DesiredCondition[] {
  const compiled = compilePolicy(policy);
  if (!compiled.ok) {
    const problems = compiled.errors.map((e) => `${e.path}: ${e.message}`).join("; ");
    return [
      { type: r.CONDITION_READY, status: "False", reason: r.REASON_INVALID, message: problems },
      {
        type: r.CONDITION_MEASUREMENTS_PINNED,
        status: "Unknown",
        reason: r.REASON_INVALID,
        message: "the policy is not valid",
      },
    ];
  }
  const unpinned = TEES.filter((tee) => !measurementsPinned(compiled.policy, tee));
  const ready: DesiredCondition = {
    type: r.CONDITION_READY,
    status: "True",
    reason: r.REASON_VALID,
    message: "the policy is valid",
  };
  if (unpinned.length === 0) {
    return [
      ready,
      {
        type: r.CONDITION_MEASUREMENTS_PINNED,
        status: "True",
        reason: r.REASON_PINNED,
        message: "TDX and SNP launch measurements are pinned",
      },
    ];
  }
  const missing = unpinned.map((tee) => `${tee} (no ${PIN_FIELDS[tee]})`).join(", ");
  const allowed = compiled.policy.allowUnpinnedMeasurements;
  return [
    ready,
    {
      type: r.CONDITION_MEASUREMENTS_PINNED,
      status: "False",
      reason: allowed ? r.REASON_UNPINNED_ALLOWED : r.REASON_NOT_PINNED,
      message: allowed
        ? `not pinned: ${missing}; spec.allowUnpinnedMeasurements accepts any genuine guest of these TEEs`
        : `not pinned: ${missing}; ConfidentialVMs of these TEEs are not Attested (MeasurementsUnpinned)`,
    },
  ];
}
