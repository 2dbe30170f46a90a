/**
 * Appraisal of verified GPU/NVSwitch results against `AttestationPolicy.spec.gpu` (pure): allowed driver and VBIOS
 * versions, the number of GPUs the CVM was assigned, and which verification errors the policy tolerates (a RIM or
 * OCSP answer that could not be had leaves its status "unchecked"; whether that is acceptable is the verdict's call).
 */
import type { PolicyViolation, VerificationError } from "../types.ts";
import type { GpuResult } from "../verify-bundle.ts";
import type { GpuPolicy } from "./appraisal-hooks.ts";

/** Errors that only mean "could not check" and are tolerated when the policy does not require the check. */
export const RIM_UNAVAILABLE = "RimUnavailable";
export const REVOCATION_UNAVAILABLE = "CollateralUnavailable";

export function rimMatchRequired(policy: GpuPolicy | undefined): boolean {
  return policy?.requireRimMatch ?? true;
}

export function revocationCheckRequired(policy: GpuPolicy | undefined): boolean {
  return policy?.requireRevocationCheck ?? true;
}

/** The errors of one GPU result that make it contraindicated under `policy`. */
export function blockingGpuErrors(
  errors: readonly VerificationError[],
  policy: GpuPolicy | undefined,
): VerificationError[] {
  return errors.filter(
    (e) =>
      !(e.code === RIM_UNAVAILABLE && !rimMatchRequired(policy)) &&
      !(e.code === REVOCATION_UNAVAILABLE && !revocationCheckRequired(policy)),
  );
}

function allowed(list: readonly string[] | undefined, value: string): boolean {
  return list === undefined || list.length === 0 || list.some((v) => v.toUpperCase() === value.toUpperCase());
}

/**
 * Version policy for authentic results (NVSwitches have no driver and a switch BIOS, not a GPU VBIOS: the GPU lists
 * do not apply to them), and, when the caller knows it, the number of GPUs assigned to the CVM.
 */
export function appraiseGpus(
  gpus: readonly (GpuResult & { deviceType?: "gpu" | "switch" })[],
  policy: GpuPolicy | undefined,
  options: { assignedGpus?: number } = {},
): PolicyViolation[] {
  const violations: PolicyViolation[] = [];
  for (const gpu of gpus) {
    if (!gpu.authentic || gpu.deviceType === "switch") continue;
    if (!allowed(policy?.allowedDriverVersions, gpu.driverVersion)) {
      violations.push({
        field: "spec.gpu.allowedDriverVersions",
        expected: [...(policy?.allowedDriverVersions ?? [])],
        actual: gpu.driverVersion,
        message: `GPU ${gpu.index} runs driver ${gpu.driverVersion || "(none reported)"}, which the policy does not allow`,
      });
    }
    if (!allowed(policy?.allowedVbiosVersions, gpu.vbiosVersion)) {
      violations.push({
        field: "spec.gpu.allowedVbiosVersions",
        expected: [...(policy?.allowedVbiosVersions ?? [])],
        actual: gpu.vbiosVersion,
        message: `GPU ${gpu.index} runs VBIOS ${gpu.vbiosVersion || "(none reported)"}, which the policy does not allow`,
      });
    }
  }
  const { assignedGpus } = options;
  if (assignedGpus !== undefined) {
    const present = gpus.filter((g) => g.deviceType !== "switch").length;
    if (present !== assignedGpus) {
      violations.push({
        field: "status.gpus",
        expected: [String(assignedGpus)],
        actual: String(present),
        message: `the bundle holds evidence of ${present} GPUs, ${assignedGpus} are assigned`,
      });
    }
  }
  return violations;
}
