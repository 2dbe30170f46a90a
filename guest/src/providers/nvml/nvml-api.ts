/** The NVML calls the GPU provider makes, as plain functions (bound to libnvidia-ml by FFI, or faked in tests). */
export interface NvmlApi {
  init(): void;
  shutdown(): void;
  driverVersion(): string;
  deviceCount(): number;
  /** An opaque nvmlDevice_t. */
  deviceHandle(index: number): unknown;
  architecture(device: unknown): number;
  vbiosVersion(device: unknown): string;
  /** Fills an nvmlConfComputeGpuAttestationReport_t (see structs.ts) whose nonce is set. */
  attestationReport(device: unknown, struct: Uint8Array): void;
  /** Fills an nvmlConfComputeGpuCertificate_t. */
  certificate(device: unknown, struct: Uint8Array): void;
  /** Fills an nvmlConfComputeSystemState_t (nvmlSystemGetConfComputeState, R535+). */
  ccSystemState(struct: Uint8Array): void;
  /**
   * Fills an nvmlSystemConfComputeSettings_t whose version is set (nvmlSystemGetConfComputeSettings, R550+);
   * undefined when the library does not export it.
   */
  ccSettings?: (struct: Uint8Array) => void;
  /** nvmlSystemGetConfComputeGpusReadyState: NVML_CC_ACCEPTING_CLIENT_REQUESTS_TRUE (1) or _FALSE (0). */
  gpusReadyState(): number;
  /** nvmlSystemSetConfComputeGpusReadyState; a privileged control of the driver (CAP_SYS_ADMIN). */
  setGpusReadyState(state: number): void;
}

/** NVML return codes the provider acts on. */
export const NVML_ERROR_NOT_SUPPORTED = 3;
export const NVML_ERROR_NO_PERMISSION = 4;
export const NVML_ERROR_FUNCTION_NOT_FOUND = 13;

export class NvmlError extends Error {
  readonly code: number;
  constructor(call: string, code: number, description: string) {
    super(`${call} failed: NVML error ${code} (${description})`);
    this.name = "NvmlError";
    this.code = code;
  }
}
