/**
 * NVML's system-wide confidential-computing state (nvml.h, R535+; settings R550+), laid out by hand like structs.ts:
 *
 *   nvmlConfComputeSystemState_t { u32 environment, ccFeature, devToolsMode }
 *   nvmlSystemConfComputeSettings_v1_t { u32 version, environment, ccFeature, devToolsMode, multiGpuMode }
 *     version = nvmlSystemConfComputeSettings_v1 = NVML_STRUCT_VERSION(SystemConfComputeSettings, 1)
 *             = sizeof(struct) | 1 << 24
 *
 * and the ready state (nvmlSystemGet/SetConfComputeGpusReadyState: NVML_CC_ACCEPTING_CLIENT_REQUESTS_FALSE 0,
 * _TRUE 1). Values are decoded into the CRD's `status.evidence.gpuSystem` words; a value nvml.h does not define is
 * an error naming it, never a guess.
 */
import type { GpuSystemState } from "../../../../operator/src/attestation/gpu/appraise-gpu-system.ts";

export const CC_SYSTEM_STATE_SIZE = 12;
export const CC_SETTINGS_SIZE = 20;
export const CC_SETTINGS_V1 = (CC_SETTINGS_SIZE | (1 << 24)) >>> 0;

export const CC_ACCEPTING_CLIENT_REQUESTS_FALSE = 0;
export const CC_ACCEPTING_CLIENT_REQUESTS_TRUE = 1;

/** NVML_CC_SYSTEM_ENVIRONMENT_*, _FEATURE_*, _DEVTOOLS_MODE_*, _MULTIGPU_*. */
const ENVIRONMENTS = ["unavailable", "sim", "prod"] as const;
const ON_OFF = ["off", "on"] as const;
const MULTI_GPU_MODES = ["none", "ppcie", "nvle"] as const;

export type GpuCcSettings = Omit<GpuSystemState, "readyState">;

function word<T extends string>(names: readonly T[], value: number, field: string): T {
  const name = names[value];
  if (name === undefined) throw new Error(`NVML reports ${field} ${value}, which nvml.h does not define`);
  return name;
}

const fields = (bytes: Uint8Array, size: number, what: string): DataView => {
  if (bytes.length !== size) throw new Error(`NVML ${what} struct is ${bytes.length} bytes, not ${size}`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};

/** A zeroed nvmlSystemConfComputeSettings_t with its version set (NVML refuses any other version). */
export function ccSettingsRequest(): Uint8Array {
  const bytes = new Uint8Array(CC_SETTINGS_SIZE);
  new DataView(bytes.buffer).setUint32(0, CC_SETTINGS_V1, true);
  return bytes;
}

export function decodeCcSettings(bytes: Uint8Array): GpuCcSettings {
  const view = fields(bytes, CC_SETTINGS_SIZE, "conf compute settings");
  return {
    environment: word(ENVIRONMENTS, view.getUint32(4, true), "environment"),
    ccFeature: word(ON_OFF, view.getUint32(8, true), "ccFeature"),
    devToolsMode: word(ON_OFF, view.getUint32(12, true), "devToolsMode"),
    multiGpuMode: word(MULTI_GPU_MODES, view.getUint32(16, true), "multiGpuMode"),
  };
}

/** The R535 state struct: no multiGpuMode (protected PCIe came with R550), so `none`. */
export function decodeCcSystemState(bytes: Uint8Array): GpuCcSettings {
  const view = fields(bytes, CC_SYSTEM_STATE_SIZE, "conf compute system state");
  return {
    environment: word(ENVIRONMENTS, view.getUint32(0, true), "environment"),
    ccFeature: word(ON_OFF, view.getUint32(4, true), "ccFeature"),
    devToolsMode: word(ON_OFF, view.getUint32(8, true), "devToolsMode"),
    multiGpuMode: "none",
  };
}

export function decodeReadyState(value: number): boolean {
  if (value === CC_ACCEPTING_CLIENT_REQUESTS_TRUE) return true;
  if (value === CC_ACCEPTING_CLIENT_REQUESTS_FALSE) return false;
  throw new Error(`NVML reports GPUs ready state ${value}, which nvml.h does not define`);
}
