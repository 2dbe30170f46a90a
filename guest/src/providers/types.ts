/**
 * Where the guest's evidence comes from. The real providers (configfs-tsm, NVML) are the defaults; simulated ones
 * exist only behind an explicit flag, for tests and demos.
 */
import type { GpuSystemState } from "../../../operator/src/attestation/gpu/appraise-gpu-system.ts";
import type { EvidenceBundle, TeeEvidence } from "../../../operator/src/attestation/types.ts";

export type GpuEvidence = NonNullable<EvidenceBundle["gpus"]>[number];
export type { GpuSystemState };

/**
 * The driver's CC ready state: in CC mode it refuses CUDA work until the GPUs are set ready. The driver never
 * accepts READY again once it was reset to not ready (until it is reloaded, i.e. the CVM reboots).
 */
export interface GpuReadySwitch {
  /** Whether the GPUs accept work (nvmlSystemGetConfComputeGpusReadyState). */
  get(): Promise<boolean>;
  /** nvmlSystemSetConfComputeGpusReadyState: a privileged driver control. */
  set(ready: boolean): Promise<void>;
}

/**
 * What the control plane says this CVM was given. Real providers enumerate the hardware themselves and ignore it;
 * simulated ones derive the identities of their simulated devices from it.
 */
export interface HardwareHints {
  /** The host's node name, or the CVM's namespace/name when not yet known. */
  machine: string;
  /** One name per assigned GPU. */
  gpus: readonly string[];
  /** One name per NVSwitch of a PPCIe board CVM (`status.nvswitches`); absent otherwise. */
  nvswitches?: readonly string[];
  /** The TEE the CVM asked for (`spec.tee`); the simulated TEE produces that evidence. */
  tee?: "tdx" | "snp";
}

export interface TeeEvidenceProvider {
  readonly name: string;
  /** The TDX quote or SNP report whose REPORTDATA / REPORT_DATA is `reportData` (64 bytes). */
  collect(reportData: Uint8Array, hardware: HardwareHints): Promise<TeeEvidence>;
}

export interface GpuEvidenceProvider {
  readonly name: string;
  /** One entry per GPU: SPDM evidence whose request nonce is `gpuNonce` (32 bytes), and its certificate chain. */
  collect(gpuNonce: Uint8Array, hardware: HardwareHints): Promise<GpuEvidence[]>;
  /** The GPUs' CC state as the driver reports it (`status.evidence.gpuSystem`: guest-observed, not signed). */
  systemState?(): Promise<GpuSystemState>;
  /** The CC ready switch, when the provider can set it. */
  readonly readySwitch?: GpuReadySwitch;
  close?(): Promise<void>;
}
