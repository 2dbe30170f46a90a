/**
 * Builds SPDM 1.1 GET_MEASUREMENTS request ‖ MEASUREMENTS response evidence in NVIDIA's layout and signs it with a
 * simulated device leaf key: for the simulated GPUs, synthetic verifier tests and the parser's round-trip property.
 */
import { randomBytes, sign, type KeyObject } from "node:crypto";

export interface BlockSpec {
  index: number;
  valueType?: number;
  value: Uint8Array;
}

export interface OpaqueSpec {
  type: number;
  value: Uint8Array;
}

export interface EvidenceSpec {
  nonce?: Uint8Array;
  param2?: number;
  slotId?: number;
  blocks?: BlockSpec[];
  responderNonce?: Uint8Array;
  opaque?: OpaqueSpec[];
}

const u16 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff];
const u24 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff];

export function encodeBlocks(blocks: readonly BlockSpec[]): Uint8Array {
  const parts = blocks.map((b) =>
    Buffer.concat([
      Buffer.from([b.index, 0x01, ...u16(b.value.length + 3), b.valueType ?? 0x01, ...u16(b.value.length)]),
      b.value,
    ]),
  );
  return Buffer.concat(parts);
}

export function encodeOpaque(fields: readonly OpaqueSpec[]): Uint8Array {
  return Buffer.concat(
    fields.map((f) => Buffer.concat([Buffer.from([...u16(f.type), ...u16(f.value.length)]), f.value])),
  );
}

export const defaultBlocks = (count = 4): BlockSpec[] =>
  Array.from({ length: count }, (_, i) => ({ index: i + 1, value: new Uint8Array(48).fill(i + 1) }));

export const opaque = {
  /**
   * A GPU's SWITCH_PDI (type 22): the PDIs of the switches its 18 NVLinks reach, one entry per link, each
   * little-endian (byte-reversed from the switch's own DEVICE_PDI), as NVIDIA's PPCIe verifier reads them.
   */
  gpuSwitchPdis: (switchPdis: readonly Uint8Array[]): OpaqueSpec => ({
    type: 22,
    value: Buffer.concat(
      Array.from({ length: 18 }, (_, link) =>
        Buffer.from(switchPdis[link % switchPdis.length] ?? new Uint8Array(8)).reverse(),
      ),
    ),
  }),
  /** An NVSwitch's own DEVICE_PDI (type 22). */
  switchPdi: (pdi: Uint8Array): OpaqueSpec => ({ type: 22, value: Uint8Array.from(pdi) }),
  /** An NVSwitch's SWITCH_GPU_PDIS (type 26): the PDIs of the GPUs connected to it. */
  switchGpuPdis: (gpuPdis: readonly Uint8Array[]): OpaqueSpec => ({
    type: 26,
    value: Buffer.concat(gpuPdis),
  }),
  driverVersion: (text: string): OpaqueSpec => ({ type: 3, value: Buffer.from(`${text}\0`, "latin1") }),
  /** `96.00.9F.00.01` -> the GPU's 8-byte form (b3.b2.b1.b0.b4). */
  gpuVbios: (version: string): OpaqueSpec => {
    const [b3 = 0, b2 = 0, b1 = 0, b0 = 0, b4 = 0] = version.split(".").map((p) => parseInt(p, 16));
    return { type: 6, value: new Uint8Array([b0, b1, b2, b3, b4, 0, 0, 0]) };
  },
  switchVbios: (version: string): OpaqueSpec => ({ type: 6, value: Buffer.from(version, "latin1") }),
  fwid: (digest: Uint8Array): OpaqueSpec => ({ type: 20, value: digest }),
  /** Board identifiers that name the VBIOS RIM (NUL-terminated ASCII, as on H100s). */
  project: (text: string): OpaqueSpec => ({ type: 17, value: Buffer.from(`${text}\0`, "latin1") }),
  projectSku: (text: string): OpaqueSpec => ({ type: 18, value: Buffer.from(`${text}\0`, "latin1") }),
  chipSku: (text: string): OpaqueSpec => ({ type: 15, value: Buffer.from(`${text}\0`, "latin1") }),
};

/** Request ‖ response without the signature (what the device signs). */
export function encodeSignedPart(spec: EvidenceSpec): Uint8Array {
  const blocks = spec.blocks ?? defaultBlocks();
  const record = encodeBlocks(blocks);
  const opaqueData = encodeOpaque(spec.opaque ?? []);
  return Buffer.concat([
    Buffer.from([0x11, 0xe0, 0x01, spec.param2 ?? 0xff]),
    spec.nonce ?? randomBytes(32),
    Buffer.from([spec.slotId ?? 0]),
    Buffer.from([0x11, 0x60, 0x00, 0x00, blocks.length, ...u24(record.length)]),
    record,
    spec.responderNonce ?? randomBytes(32),
    Buffer.from(u16(opaqueData.length)),
    opaqueData,
  ]);
}

/** Signed evidence (ECDSA P-384/SHA-384, r‖s) when `signer` is given, else a zero signature. */
export function encodeEvidence(spec: EvidenceSpec, signer?: KeyObject): Uint8Array {
  const signed = encodeSignedPart(spec);
  const signature =
    signer === undefined
      ? new Uint8Array(96)
      : sign("sha384", signed, { key: signer, dsaEncoding: "ieee-p1363" });
  return Buffer.concat([signed, signature]);
}
