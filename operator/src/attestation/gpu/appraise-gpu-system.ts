/**
 * Appraisal of the GPUs' confidential-computing state (`status.evidence.gpuSystem`) against the compiled policy and
 * the CC mode the CVM's host was validated for (pure). The state is what NVML answered inside the CVM: the guest's
 * word, not signed by any GPU, so every message says so. The signed counterpart is the RIM match of the GPU
 * measurements: devtools mode changes them, so a devtools-mode GPU also fails it whenever RIMs are checked.
 */
import type { ConfidentialVMStatusEvidenceGpuSystem } from "../../api/v1alpha1/generated/types.ts";
import type { GpuPolicy } from "../policy/compiled-policy.ts";
import type { PolicyViolation } from "../types.ts";

export type GpuSystemState = ConfidentialVMStatusEvidenceGpuSystem;

/** The CC modes a host can be validated for: one GPU per CVM in CC mode, or protected PCIe (8 GPUs + NVSwitches). */
export type GpuCcMode = "on" | "ppcie";

const GUEST_OBSERVED = "as NVML reports it in the guest (guest-observed, not signed)";

/** The CC mode the state describes; the driver reports ccFeature off in protected PCIe mode. */
export function gpuCcModeOf(state: GpuSystemState): GpuCcMode | "nvle" | "off" {
  if (state.multiGpuMode === "ppcie") return "ppcie";
  if (state.multiGpuMode === "nvle") return "nvle";
  return state.ccFeature === "on" ? "on" : "off";
}

function devToolsViolation(policy: GpuPolicy, policyName: string): PolicyViolation {
  return {
    field: "spec.gpu.allowDevTools",
    expected: ["devToolsMode off"],
    actual: "devToolsMode on",
    message:
      `the GPUs run in CC devtools mode ${GUEST_OBSERVED}: debuggers and profilers can read GPU state, so GPU ` +
      `memory is not confidential; AttestationPolicy ${policyName} does not allow it (spec.gpu.allowDevTools: ` +
      `${String(policy.allowDevTools)}). A devtools-mode GPU also fails the signed RIM match when RIMs are checked`,
  };
}

function environmentViolation(state: GpuSystemState): PolicyViolation {
  return {
    field: "status.evidence.gpuSystem.environment",
    expected: ["prod"],
    actual: state.environment,
    message:
      state.environment === "sim"
        ? `the GPUs' CC environment is SIM (a simulated, non-production CC environment) ${GUEST_OBSERVED}`
        : `the GPUs' CC environment is unavailable ${GUEST_OBSERVED}: confidential computing is not set up`,
  };
}

function modeViolation(state: GpuSystemState, expected: GpuCcMode | undefined): PolicyViolation | undefined {
  const mode = gpuCcModeOf(state);
  const accepted: GpuCcMode[] = expected === undefined ? ["on", "ppcie"] : [expected];
  if ((accepted as string[]).includes(mode)) return undefined;
  const field =
    mode === "off" ? "status.evidence.gpuSystem.ccFeature" : "status.evidence.gpuSystem.multiGpuMode";
  const what =
    mode === "off"
      ? `the GPUs' CC feature is off ${GUEST_OBSERVED}: they do not protect the CVM's data`
      : `the GPUs run CC mode ${mode} ${GUEST_OBSERVED}`;
  const wanted =
    expected === undefined
      ? "trustgate attests CC mode on or ppcie"
      : `the CVM was placed on a host validated for CC mode ${expected}`;
  return { field, expected: accepted, actual: mode, message: `${what}; ${wanted}` };
}

/**
 * Violations of the GPUs' CC state: devtools mode unless `spec.gpu.allowDevTools` (its SIM environment is then
 * accepted too: the driver reports SIM in devtools mode), any environment but PROD, the CC feature off, and a CC mode
 * other than the one the host was validated for (`expectedMode`; without it, `on` or `ppcie`). A bundle without
 * GPUs has nothing to appraise; a bundle with GPUs but no `gpuSystem` (guests before trustgate reported it,
 * hand-made bundles) is not appraised here either: the state is unsigned, so its absence proves no less than a
 * forged one, and the signed checks (SPDM evidence, RIM match) still apply.
 */
export function appraiseGpuSystem(
  state: GpuSystemState | undefined,
  gpuCount: number,
  policy: GpuPolicy,
  context: { policyName: string; expectedMode?: GpuCcMode },
): PolicyViolation[] {
  if (state === undefined || gpuCount === 0) return [];
  const violations: PolicyViolation[] = [];
  const devTools = state.devToolsMode === "on";
  if (devTools && !policy.allowDevTools) violations.push(devToolsViolation(policy, context.policyName));
  // The driver reports SIM in devtools mode: the devtools reason above is the precise one.
  const simOfDevTools = devTools && state.environment === "sim";
  if (state.environment !== "prod" && !simOfDevTools) violations.push(environmentViolation(state));
  const mode = modeViolation(state, context.expectedMode);
  if (mode !== undefined) violations.push(mode);
  return violations;
}
