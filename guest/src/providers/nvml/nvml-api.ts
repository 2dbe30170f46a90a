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
}

export class NvmlError extends Error {
  readonly code: number;
  constructor(call: string, code: number, description: string) {
    super(`${call} failed: NVML error ${code} (${description})`);
    this.name = "NvmlError";
    this.code = code;
  }
}
