/**
 * Appraisal of verified GPU/NVSwitch results against the compiled policy's `gpu` section and the CVM's assignment
 * (pure): allowed driver and VBIOS versions, the GPUs the CVM was assigned (each exactly once, attested by no other
 * CVM), a PPCIe board's signed NVLink topology (appraise-topology.ts), and which verification errors the policy tolerates (a RIM or OCSP answer that could not be had leaves its
 * status "unchecked"; whether that is acceptable is the verdict's call).
 */
import type { GpuPolicy } from "../policy/compiled-policy.ts";
import type { GpuResult, GpuVerificationSources, PolicyViolation, VerificationError } from "../types.ts";
import { topologyViolations } from "./appraise-topology.ts";

/** Errors that only mean "could not check" and are tolerated when the policy does not require the check. */
export const RIM_UNAVAILABLE = "RimUnavailable";
export const REVOCATION_UNAVAILABLE = "CollateralUnavailable";

/** What the CVM was given, when the caller knows it (the controller; not `trustgate verify`). */
export interface GpuAssignment {
  /** GPUs assigned to the CVM: the bundle must hold evidence of each exactly once (NVSwitches not counted). */
  gpus: number;
  /** NVSwitches assigned (a PPCIe board's; 0 for a CC-mode CVM), counted apart; unset: not checked. */
  nvswitches?: number;
  /** A whole PPCIe board (`spec.gpus.mode: ppcie`): its signed NVLink topology is appraised (appraise-topology.ts). */
  ppcie?: boolean;
  /** Device identities (UEIDs) attested by other live ConfidentialVMs, with their `ns/name`. */
  identitiesElsewhere?: ReadonlyMap<string, string>;
}

/** The policy's sources for the GPU verifier: URLs are how to verify, not what to require. */
export function gpuSourcesOf(policy: GpuPolicy): GpuVerificationSources {
  return {
    mode: policy.mode,
    allowCertificateHold: policy.allowCertificateHold,
    ...(policy.rimServiceUrl === undefined ? {} : { rimServiceUrl: policy.rimServiceUrl }),
    ...(policy.ocspUrl === undefined ? {} : { ocspUrl: policy.ocspUrl }),
    ...(policy.nrasUrl === undefined ? {} : { nrasUrl: policy.nrasUrl }),
  };
}

/** The errors of one GPU result that make it contraindicated under `policy`. */
export function blockingGpuErrors(
  errors: readonly VerificationError[],
  policy: GpuPolicy,
): VerificationError[] {
  return errors.filter(
    (e) =>
      !(e.code === RIM_UNAVAILABLE && !policy.requireRimMatch) &&
      !(e.code === REVOCATION_UNAVAILABLE && !policy.requireRevocationCheck),
  );
}

function allowed(list: readonly string[] | undefined, value: string): boolean {
  return list === undefined || list.length === 0 || list.some((v) => v.toUpperCase() === value.toUpperCase());
}

function versionViolations(gpu: GpuResult, policy: GpuPolicy): PolicyViolation[] {
  const checks = [
    {
      field: "allowedDriverVersions",
      what: "driver",
      list: policy.allowedDriverVersions,
      actual: gpu.driverVersion,
    },
    {
      field: "allowedVbiosVersions",
      what: "VBIOS",
      list: policy.allowedVbiosVersions,
      actual: gpu.vbiosVersion,
    },
  ] as const;
  return checks
    .filter(({ list, actual }) => !allowed(list, actual))
    .map(({ field, what, list, actual }) => ({
      field: `spec.gpu.${field}`,
      expected: [...(list ?? [])],
      actual,
      message: `GPU ${gpu.index} runs ${what} ${actual || "(none reported)"}, which the policy does not allow`,
    }));
}

function assignmentViolations(gpus: readonly GpuResult[], assignment: GpuAssignment): PolicyViolation[] {
  const violations: PolicyViolation[] = [];
  const present = gpus.filter((g) => g.deviceType !== "switch").length;
  if (present !== assignment.gpus) {
    violations.push({
      field: "status.gpus",
      expected: [String(assignment.gpus)],
      actual: String(present),
      message: `the bundle holds evidence of ${present} GPUs, ${assignment.gpus} are assigned`,
    });
  }
  const switches = gpus.length - present;
  if (assignment.nvswitches !== undefined && switches !== assignment.nvswitches) {
    violations.push({
      field: "status.nvswitches",
      expected: [String(assignment.nvswitches)],
      actual: String(switches),
      message: `the bundle holds evidence of ${switches} NVSwitches, ${assignment.nvswitches} are assigned`,
    });
  }
  for (const gpu of gpus) {
    const identity = gpu.deviceIdentity;
    const other = identity === undefined ? undefined : assignment.identitiesElsewhere?.get(identity);
    if (other === undefined || identity === undefined) continue;
    violations.push({
      field: gpu.deviceType === "switch" ? "status.nvswitches" : "status.gpus",
      expected: ["a device attested by no other ConfidentialVM"],
      actual: identity,
      message: `${gpu.deviceType === "switch" ? "NVSwitch" : "GPU"} ${gpu.index} (device identity ${identity.slice(0, 16)}…) is attested by ${other}`,
    });
  }
  return violations;
}

/**
 * Version policy for authentic results (NVSwitches have no driver and a switch BIOS, not a GPU VBIOS: the GPU lists
 * do not apply to them), and, when the caller knows it, the assignment.
 */
export function appraiseGpus(
  gpus: readonly GpuResult[],
  policy: GpuPolicy,
  assignment?: GpuAssignment,
): PolicyViolation[] {
  const versions = gpus
    .filter((gpu) => gpu.authentic && gpu.deviceType !== "switch")
    .flatMap((gpu) => versionViolations(gpu, policy));
  const assigned = assignment === undefined ? [] : assignmentViolations(gpus, assignment);
  // A PPCIe board's topology is appraised once its devices are all authentic, distinct and as many as assigned;
  // otherwise the bundle is already refused for that, with that reason.
  const topologyApplies =
    assignment?.ppcie === true &&
    assigned.length === 0 &&
    gpus.every((g) => g.authentic && !g.errors.some((e) => e.code === "DuplicateGpu"));
  return [...versions, ...assigned, ...(topologyApplies ? topologyViolations(gpus) : [])];
}
