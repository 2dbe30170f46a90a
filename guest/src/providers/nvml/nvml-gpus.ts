/**
 * The real GPU provider: for every GPU NVML sees in the CVM, its Confidential Computing attestation report (SPDM
 * GET_MEASUREMENTS with our nonce, signed by the GPU) and attestation certificate chain, plus the driver and VBIOS
 * versions; the system's CC state (settings and ready state); and the CC ready switch. The GPUs are enumerated
 * here; the control plane's hints are not used.
 */
import type { GpuEvidence, GpuEvidenceProvider, GpuReadySwitch, GpuSystemState } from "../types.ts";
import {
  CC_ACCEPTING_CLIENT_REQUESTS_FALSE,
  CC_ACCEPTING_CLIENT_REQUESTS_TRUE,
  CC_SYSTEM_STATE_SIZE,
  ccSettingsRequest,
  decodeCcSettings,
  decodeCcSystemState,
  decodeReadyState,
  type GpuCcSettings,
} from "./cc-state.ts";
import type { NvmlApi } from "./nvml-api.ts";
import {
  NVML_ERROR_FUNCTION_NOT_FOUND,
  NVML_ERROR_NO_PERMISSION,
  NVML_ERROR_NOT_SUPPORTED,
  NvmlError,
} from "./nvml-api.ts";
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
    return this.#session((nvml) => {
      const driverVersion = nvml.driverVersion();
      const count = nvml.deviceCount();
      return Array.from({ length: count }, (_, index) => this.#one(nvml, index, request, driverVersion));
    });
  }

  /** The CC settings and the ready state; a ready state NVML cannot tell is `unknown`. */
  systemState(): Promise<GpuSystemState> {
    return this.#session((nvml) => {
      const settings = ccSettings(nvml);
      let readyState: GpuSystemState["readyState"];
      try {
        readyState = decodeReadyState(nvml.gpusReadyState()) ? "ready" : "not-ready";
      } catch {
        readyState = "unknown";
      }
      return { ...settings, readyState };
    });
  }

  readonly readySwitch: GpuReadySwitch = {
    get: () => this.#session((nvml) => decodeReadyState(nvml.gpusReadyState())),
    set: (ready) =>
      this.#session((nvml) => {
        try {
          nvml.setGpusReadyState(
            ready ? CC_ACCEPTING_CLIENT_REQUESTS_TRUE : CC_ACCEPTING_CLIENT_REQUESTS_FALSE,
          );
        } catch (error) {
          if (error instanceof NvmlError && error.code === NVML_ERROR_NO_PERMISSION)
            throw new Error(
              `${error.message}: setting the GPUs' ready state is a privileged driver control that needs ` +
                "CAP_SYS_ADMIN (trustgate-guest.service grants it)",
              { cause: error },
            );
          throw error;
        }
      }),
  };

  /** Runs `use` between nvmlInit and nvmlShutdown (NVML counts them), shutting down after any failure too. */
  async #session<T>(use: (nvml: NvmlApi) => T): Promise<T> {
    this.#api ??= this.#load();
    const nvml = await this.#api;
    nvml.init();
    try {
      return use(nvml);
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

/** The R550 settings (with multiGpuMode), or the R535 state where the driver does not have them. */
function ccSettings(nvml: NvmlApi): GpuCcSettings {
  if (nvml.ccSettings !== undefined) {
    const struct = ccSettingsRequest();
    try {
      nvml.ccSettings(struct);
      return decodeCcSettings(struct);
    } catch (error) {
      const absent =
        error instanceof NvmlError &&
        (error.code === NVML_ERROR_NOT_SUPPORTED || error.code === NVML_ERROR_FUNCTION_NOT_FOUND);
      if (!absent) throw error;
    }
  }
  const struct = new Uint8Array(CC_SYSTEM_STATE_SIZE);
  nvml.ccSystemState(struct);
  return decodeCcSystemState(struct);
}
