/**
 * The simulated TDX platform: what its PCK certificates, its quotes and the simulated Intel collateral agree on.
 * The SVNs are those of a 5th-generation Xeon with an up-to-date TDX 1.0 module; FMSPC, measurements and the QE's
 * identity are simulated (no real platform or Intel enclave has them).
 */
import { simulatedDigest } from "./device-identity.ts";
import type { PckTcbSpec } from "./intel-pki.ts";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** FMSPC of the simulated platform (6 bytes, hex); the simulated PCS serves TCB info for it alone. */
export const SIMULATED_TDX_FMSPC = "5a5a5a000000";
/** The SGX TCB of the simulated PCK certificates. */
export const SIMULATED_TDX_PCK_TCB: PckTcbSpec = {
  fmspc: SIMULATED_TDX_FMSPC,
  sgxComponents: [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
  pceSvn: 11,
};
/** TEE_TCB_SVN: TDX module SVN 6, major version 1 (identity TDX_01), microcode SVN 3. */
export const SIMULATED_TEE_TCB_SVN: readonly number[] = [6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/** The TDX module's signer and SEAM attributes, as Intel's modules have them (all zero). */
export const SIMULATED_TDX_MODULE = { mrSigner: "00".repeat(48), attributes: "00".repeat(8) } as const;
export const SIMULATED_TDX_MRSEAM = hex(simulatedDigest("TDX module"));

/** MRTD of the simulated TD image, for policies in tests and demos. */
export const SIMULATED_TDX_MRTD = hex(simulatedDigest("TDX TD image"));
/** RTMR0..2 of the simulated boot (firmware, kernel, command line); RTMR3 is left to the guest, zero. */
export const SIMULATED_TDX_RTMRS: readonly [string, string, string, string] = [
  hex(simulatedDigest("TDX RTMR0 firmware")),
  hex(simulatedDigest("TDX RTMR1 kernel")),
  hex(simulatedDigest("TDX RTMR2 command line")),
  "00".repeat(48),
];
/** TD ATTRIBUTES (the quote's little-endian bytes): SEPT_VE_DISABLE only, as production Linux TDs; no DEBUG. */
export const SIMULATED_TDX_TD_ATTRIBUTES = "0000001000000000";
/** XFAM: x87, SSE, AVX, AVX-512, PK, AMX (the quote's little-endian bytes). */
export const SIMULATED_TDX_XFAM = "e702060000000000";

/** The simulated TD quoting enclave and its Intel-style identity. */
export const SIMULATED_TD_QE = {
  mrSigner: hex(simulatedDigest("TD QE signer").subarray(0, 32)),
  mrEnclave: hex(simulatedDigest("TD QE enclave").subarray(0, 32)),
  isvProdId: 2,
  isvSvn: 4,
  miscSelect: 0,
  /** The report's ATTRIBUTES; under the identity's mask they read 11000000000000000000000000000000. */
  attributes: "15000000000000000700000000000000",
} as const;

/** TCB evaluation data number of the simulated collateral. */
export const SIMULATED_TCB_EVALUATION_DATA_NUMBER = 17;
/** The date of the simulated platform's (up-to-date) TCB level. */
export const SIMULATED_TCB_DATE = "2024-03-13T00:00:00Z";
