/**
 * The initial VMSA (VM save area, AMD APM Vol. 2 Table B-4) of a vCPU as the VMM hands it to
 * SNP_LAUNCH_UPDATE: x86 reset state in real mode, the CPU signature in RDX and SEV_FEATURES.
 * Every byte not set here is zero. The VMMs differ slightly in the reset state they write.
 */
import { LaunchMeasurementError } from "./errors.ts";
import { PAGE_SIZE } from "./ovmf.ts";

export const VMM_TYPES = ["QEMU", "ec2", "gce"] as const;
export type VmmType = (typeof VMM_TYPES)[number];

/** The BSP starts at the architectural reset vector; APs at the SEV-ES reset block's address. */
export const BSP_RESET_EIP = 0xfffffff0;

/** Default PAT MSR value after reset (AMD APM Vol. 2 §A.3). */
const DEFAULT_PAT = 0x0007040600070406n;

/** Byte offsets in the VMSA page (AMD APM Vol. 2 Table B-4). */
const Offset = {
  es: 0x000,
  cs: 0x010,
  ss: 0x020,
  ds: 0x030,
  fs: 0x040,
  gs: 0x050,
  gdtr: 0x060,
  ldtr: 0x070,
  idtr: 0x080,
  tr: 0x090,
  efer: 0x0d0,
  cr4: 0x148,
  cr0: 0x158,
  dr7: 0x160,
  dr6: 0x168,
  rflags: 0x170,
  rip: 0x178,
  gPat: 0x268,
  rdx: 0x310,
  sevFeatures: 0x3b0,
  xcr0: 0x3e8,
  mxcsr: 0x408,
  x87Fcw: 0x410,
} as const;

interface Segment {
  selector: number;
  attrib: number;
  limit: number;
  base: number;
}

interface VmmResetState {
  csAttrib: number;
  ssAttrib: number;
  trAttrib: number;
  gPat: bigint;
  /** RDX at reset; undefined means the vCPU signature (what QEMU does). */
  rdx: number | undefined;
  mxcsr: number;
  x87Fcw: number;
}

function vmmResetState(vmm: VmmType, eip: number): VmmResetState {
  switch (vmm) {
    case "QEMU":
      return {
        csAttrib: 0x9b,
        ssAttrib: 0x93,
        trAttrib: 0x8b,
        gPat: DEFAULT_PAT,
        rdx: undefined,
        mxcsr: 0x1f80,
        x87Fcw: 0x37f,
      };
    case "ec2":
      return {
        csAttrib: eip === BSP_RESET_EIP ? 0x9a : 0x9b,
        ssAttrib: 0x92,
        trAttrib: 0x83,
        gPat: DEFAULT_PAT,
        rdx: 0x600,
        mxcsr: 0,
        x87Fcw: 0,
      };
    case "gce":
      return {
        csAttrib: 0x9b,
        ssAttrib: 0x93,
        trAttrib: 0x8b,
        gPat: 0x00070106n,
        rdx: 0x600,
        mxcsr: 0,
        x87Fcw: 0,
      };
  }
}

export function parseVmmType(value: string): VmmType {
  const vmm = VMM_TYPES.find((v) => v === value);
  if (vmm === undefined) {
    throw new LaunchMeasurementError(
      "UnknownVmmType",
      `unknown VMM type ${JSON.stringify(value)}; known: ${VMM_TYPES.join(", ")}`,
    );
  }
  return vmm;
}

export interface VmsaInputs {
  eip: number;
  vcpuSignature: number;
  sevFeatures: bigint;
  vmm: VmmType;
}

/** Builds the 4 KiB VMSA page of one vCPU starting at `eip` (CS base = high 16 bits, RIP = low 16 bits). */
export function buildVmsa({ eip, vcpuSignature, sevFeatures, vmm }: VmsaInputs): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  const view = new DataView(page.buffer);
  const state = vmmResetState(vmm, eip);
  const segment = (at: number, s: Segment): void => {
    view.setUint16(at, s.selector, true);
    view.setUint16(at + 2, s.attrib, true);
    view.setUint32(at + 4, s.limit, true);
    view.setBigUint64(at + 8, BigInt(s.base), true);
  };
  const data = { selector: 0, attrib: 0x93, limit: 0xffff, base: 0 };
  segment(Offset.es, data);
  segment(Offset.cs, {
    selector: 0xf000,
    attrib: state.csAttrib,
    limit: 0xffff,
    base: (eip & 0xffff0000) >>> 0,
  });
  segment(Offset.ss, { ...data, attrib: state.ssAttrib });
  segment(Offset.ds, data);
  segment(Offset.fs, data);
  segment(Offset.gs, data);
  segment(Offset.gdtr, { selector: 0, attrib: 0, limit: 0xffff, base: 0 });
  segment(Offset.ldtr, { selector: 0, attrib: 0x82, limit: 0xffff, base: 0 });
  segment(Offset.idtr, { selector: 0, attrib: 0, limit: 0xffff, base: 0 });
  segment(Offset.tr, { selector: 0, attrib: state.trAttrib, limit: 0xffff, base: 0 });
  const u64 = (at: number, value: bigint | number): void => {
    view.setBigUint64(at, BigInt(value), true);
  };
  u64(Offset.efer, 0x1000); // EFER.SVME, which KVM sets
  u64(Offset.cr4, 0x40); // CR4.MCE, which KVM sets
  u64(Offset.cr0, 0x10);
  u64(Offset.dr7, 0x400);
  u64(Offset.dr6, 0xffff0ff0);
  u64(Offset.rflags, 0x2);
  u64(Offset.rip, eip & 0xffff);
  u64(Offset.gPat, state.gPat);
  u64(Offset.rdx, state.rdx ?? vcpuSignature);
  u64(Offset.sevFeatures, sevFeatures);
  u64(Offset.xcr0, 0x1);
  view.setUint32(Offset.mxcsr, state.mxcsr, true);
  view.setUint16(Offset.x87Fcw, state.x87Fcw, true);
  return page;
}
