import type { AttestationPolicySpec } from "../../api/v1alpha1/generated/types.ts";
import type { DesiredCondition } from "../../runtime/conditions.ts";
import { parseDuration } from "../../runtime/duration.ts";
import * as r from "./reasons.ts";

/**
 * The launch measurements a policy pins per TEE. RTMR3 is left out: the guest extends it at run time, so
 * pinning it is optional, while an unpinned MRTD, RTMR0-2, MRSEAM or SNP MEASUREMENT accepts any guest.
 */
const PINNED_MEASUREMENTS = {
  tdx: ["mrTd", "rtmr0", "rtmr1", "rtmr2", "mrSeam"],
  snp: ["measurement"],
} as const;

/** The spec paths (e.g. `tdx.mrTd`) of the launch measurements the policy leaves unpinned. */
export function unpinnedMeasurements(spec: AttestationPolicySpec): string[] {
  const unpinned: string[] = [];
  for (const [tee, fields] of Object.entries(PINNED_MEASUREMENTS)) {
    const section = (spec[tee as keyof typeof PINNED_MEASUREMENTS] ?? {}) as Record<string, unknown>;
    for (const field of fields) {
      const values = section[field];
      if (!Array.isArray(values) || values.length === 0) unpinned.push(`${tee}.${field}`);
    }
  }
  return unpinned;
}

/** The conditions an AttestationPolicy's status shows: Ready (the controller can use it) and MeasurementsPinned. */
export function policyConditions(spec: AttestationPolicySpec): DesiredCondition[] {
  let ready: DesiredCondition = {
    type: r.CONDITION_READY,
    status: "True",
    reason: r.REASON_VALID,
    message: "the policy is valid",
  };
  try {
    const { challengeTtl, reattestInterval, resultTtl } = spec.freshness ?? {};
    for (const duration of [challengeTtl, reattestInterval, resultTtl])
      if (duration !== undefined) parseDuration(duration);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    ready = { ...ready, status: "False", reason: r.REASON_INVALID_FRESHNESS, message };
  }
  const unpinned = unpinnedMeasurements(spec);
  const pinned: DesiredCondition =
    unpinned.length === 0
      ? {
          type: r.CONDITION_MEASUREMENTS_PINNED,
          status: "True",
          reason: r.REASON_PINNED,
          message: "TDX (MRTD, RTMR0-2, MRSEAM) and SNP (MEASUREMENT) launch measurements are pinned",
        }
      : {
          type: r.CONDITION_MEASUREMENTS_PINNED,
          status: "False",
          reason: r.REASON_NOT_PINNED,
          message: `not pinned, any value is accepted: ${unpinned.join(", ")}`,
        };
  return [ready, pinned];
}
