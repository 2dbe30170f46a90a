/**
 * The NSCQ (NVSwitch Configuration and Query) calls the NVSwitch provider makes, as plain functions (bound to
 * libnvidia-nscq by FFI, or faked in tests). Paths, return codes and sizes are those of NVIDIA's
 * nscq_attestation.h / nscq_attestation_path.h (nvtrust, guest_tools/attestation_sdk/.../nv_switch_verifier/nscq).
 */

/** nscq_attestation_path.h: every switch's UUID. */
export const NSCQ_UUID_PATH = "/drv/nvswitch/{device}/uuid";
/** nscq_attestation.h NSCQ_ARCH_LS10. */
export const NSCQ_ARCH_LS10 = 2;
/** NSCQ_ATTESTATION_REPORT_NONCE_SIZE. */
export const NSCQ_NONCE_SIZE = 0x20;
/** NSCQ_SESSION_CREATE_MOUNT_DEVICES: nvtrust's NSCQHandler opens its session with it. */
export const NSCQ_SESSION_CREATE_MOUNT_DEVICES = 1;

/** One switch's path prefix: its label (nscq_uuid_to_label), as nvtrust's NSCQHandler builds `/<label>/config/...`. */
export const switchPath = (label: string, suffix: string): string => `/${label}${suffix}`;

export interface NscqSession {
  /** The labels of every switch NSCQ sees (nscq_uuid_to_label of each `/drv/nvswitch/{device}/uuid`). */
  switchLabels(): string[];
  /** `/<label>/id/arch` (an nscq_arch_t). */
  architecture(label: string): number;
  /** `/<label>/config/pcie_mode`: bit 0 TNVL (trusted NVLink, i.e. PPCIe) mode, bit 1 locked. */
  pcieMode(label: string): number;
  /** `/<label>/config/certificate`: the attestation certificate chain (DER certificates back to back). */
  certificateChain(label: string): Uint8Array;
  /** `/<label>/config/attestation_report` after nscq_session_set_input(nonce): SPDM request || response. */
  attestationReport(label: string, nonce: Uint8Array): Uint8Array;
  close(): void;
}

export interface NscqApi {
  /** nscq_session_create(NSCQ_SESSION_CREATE_MOUNT_DEVICES). */
  openSession(): NscqSession;
}

export class NscqError extends Error {
  readonly code: number;
  constructor(call: string, code: number) {
    super(`${call} failed: NSCQ error ${code} (${NSCQ_RC_NAMES[code] ?? "unknown"})`);
    this.name = "NscqError";
    this.code = code;
  }
}

/** nscq_attestation.h's nscq_rc_t values: 0 success, 1..127 warnings, negative errors. */
const NSCQ_RC_NAMES: Readonly<Record<number, string>> = {
  1: "NSCQ_RC_WARNING_RDT_INIT_FAILURE",
  [-1]: "NSCQ_RC_ERROR_NOT_IMPLEMENTED",
  [-2]: "NSCQ_RC_ERROR_INVALID_UUID",
  [-3]: "NSCQ_RC_ERROR_RESOURCE_NOT_MOUNTABLE",
  [-4]: "NSCQ_RC_ERROR_OVERFLOW",
  [-5]: "NSCQ_RC_ERROR_UNEXPECTED_VALUE",
  [-6]: "NSCQ_RC_ERROR_UNSUPPORTED_DRV",
  [-7]: "NSCQ_RC_ERROR_DRV",
  [-8]: "NSCQ_RC_ERROR_TIMEOUT",
  [-127]: "NSCQ_RC_ERROR_EXT",
  [-128]: "NSCQ_RC_ERROR_UNSPECIFIED",
};
