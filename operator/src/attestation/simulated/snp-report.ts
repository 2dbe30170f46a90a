/**
 * Builds and signs SEV-SNP reports in the real format (versions 2, 3, 5; Milan/Genoa and Turin TCB layouts) for
 * tests and the simulated TEE. Signed with a VCEK/VLEK of amd-pki.ts, they verify only under that simulated ARK.
 */
import { sign, type KeyObject } from "node:crypto";
import { REPORT_SIZE, SIGNED_LENGTH } from "../snp/report.ts";
import type { TcbVersion } from "../snp/tcb.ts";

export type TcbSpec = Omit<TcbVersion, "raw">;

export interface SyntheticReportSpec {
  version?: number;
  /** 0 VCEK, 1 VLEK, 7 none. */
  signingKey?: number;
  policy?: number;
  vmpl?: number;
  cpuId?: { family: number; model: number; stepping: number };
  tcb?: TcbSpec;
  reportData?: Uint8Array;
  measurement?: Uint8Array;
  hostData?: Uint8Array;
  chipId?: Uint8Array;
  platformInfo?: number;
  launchMitVector?: bigint;
  currentMitVector?: bigint;
}

/** TCB_VERSION bytes: Turin (family 0x1A) puts FMC first; Milan/Genoa keep bootloader in byte 0. */
export function encodeTcb(tcb: TcbSpec, turinLayout: boolean): Uint8Array {
  const bytes = new Uint8Array(8);
  if (turinLayout) {
    bytes.set([tcb.fmc ?? 0, tcb.bootloader, tcb.tee, tcb.snp], 0);
  } else {
    bytes.set([tcb.bootloader, tcb.tee], 0);
    bytes[6] = tcb.snp;
  }
  bytes[7] = tcb.microcode;
  return bytes;
}

export function buildReport(spec: SyntheticReportSpec = {}): Uint8Array {
  const bytes = new Uint8Array(REPORT_SIZE);
  const view = new DataView(bytes.buffer);
  const version = spec.version ?? 3;
  view.setUint32(0x00, version, true);
  view.setUint32(0x08, spec.policy ?? 0x30000, true);
  view.setUint32(0x30, spec.vmpl ?? 0, true);
  view.setUint32(0x34, 1, true);
  view.setUint32(0x40, spec.platformInfo ?? 0, true);
  view.setUint32(0x48, (spec.signingKey ?? 0) << 2, true);
  bytes.set(spec.reportData ?? new Uint8Array(64), 0x50);
  bytes.set(spec.measurement ?? new Uint8Array(48).fill(0xaa), 0x90);
  bytes.set(spec.hostData ?? new Uint8Array(32), 0xc0);
  const turin = spec.cpuId?.family === 0x1a;
  const tcb = encodeTcb(spec.tcb ?? { bootloader: 1, tee: 0, snp: 8, microcode: 100 }, turin);
  for (const offset of [0x38, 0x180, 0x1e0, 0x1f0]) bytes.set(tcb, offset);
  if (version >= 3) {
    const cpuId = spec.cpuId ?? { family: 0x19, model: 0x01, stepping: 1 };
    bytes.set([cpuId.family, cpuId.model, cpuId.stepping], 0x188);
  }
  bytes.set(spec.chipId ?? new Uint8Array(64).fill(0x5c), 0x1a0);
  bytes.set([3, 55, 1], 0x1e8);
  bytes.set([3, 55, 1], 0x1ec);
  if (version >= 5) {
    view.setBigUint64(0x1f8, spec.launchMitVector ?? 0n, true);
    view.setBigUint64(0x200, spec.currentMitVector ?? 0n, true);
  }
  return bytes;
}

/** Writes the ECDSA P-384 signature (R, S as 72-byte little-endian fields) over bytes 0x000..0x29F. */
export function signReport(report: Uint8Array, key: KeyObject): Uint8Array {
  const signed = Uint8Array.from(report);
  const signature = sign("sha384", signed.subarray(0, SIGNED_LENGTH), { key, dsaEncoding: "ieee-p1363" });
  signed.set(Uint8Array.from(signature.subarray(0, 48)).reverse(), 0x2a0);
  signed.set(Uint8Array.from(signature.subarray(48, 96)).reverse(), 0x2e8);
  return signed;
}
