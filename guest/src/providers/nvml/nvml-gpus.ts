/**
 * The real GPU provider: for every GPU NVML sees in the CVM, its Confidential Computing attestation report (SPDM
 * GET_MEASUREMENTS with our nonce, signed by the GPU) and attestation certificate chain, plus the driver and VBIOS
 * versions. The GPUs are enumerated here; the control plane's hints are not used.
 */
import type { GpuEvidence, GpuEvidenceProvider } from "../types.ts";
import type { NvmlApi } from "./nvml-api.ts";
import {
  attestationReportRequest,
  certificateChainPem,
  decodeAttestationReport,
  decodeGpuCertificate,
  DEVICE_ARCHITECTURES,
  GPU_CERTIFICATE_STRUCT_SIZE,
} from "./structs.ts";

export class NvmlGpus implements GpuEvidenceProvider {
  readonly name = "nvml";
  readonly #load: () => Promise<NvmlApi>;
  #api: Promise<NvmlApi> | undefined;

  /** `load` binds NVML (koffi-nvml.ts by default); called on first use so that a CVM without GPUs starts. */
  constructor(load: () => Promise<NvmlApi>) {
    this.#load = load;
  }

  async collect(gpuNonce: Uint8Array): Promise<GpuEvidence[]> {
    const request = attestationReportRequest(gpuNonce);
    this.#api ??= this.#load();
    const nvml = await this.#api;
    nvml.init();
    try {
      const driverVersion = nvml.driverVersion();
      const count = nvml.deviceCount();
      return Array.from({ length: count }, (_, index) => this.#one(nvml, index, request, driverVersion));
    } finally {
      nvml.shutdown();
    }
  }

  #one(nvml: NvmlApi, index: number, request: Uint8Array, driverVersion: string): GpuEvidence {
    const device = nvml.deviceHandle(index);
    const architecture = nvml.architecture(device);
    const arch = DEVICE_ARCHITECTURES[architecture];
    if (arch === undefined)
      throw new Error(
        `GPU ${index}: NVML architecture ${architecture} is neither Hopper nor Blackwell; it cannot attest`,
      );
    const reportStruct = Uint8Array.from(request);
    nvml.attestationReport(device, reportStruct);
    const certificateStruct = new Uint8Array(GPU_CERTIFICATE_STRUCT_SIZE);
    nvml.certificate(device, certificateStruct);
    const { report } = decodeAttestationReport(reportStruct);
    const { attestationCertChain } = decodeGpuCertificate(certificateStruct);
    return {
      arch,
      evidence: Buffer.from(report).toString("base64"),
      certChain: certificateChainPem(attestationCertChain),
      driverVersion,
      vbiosVersion: nvml.vbiosVersion(device),
    };
  }
}
