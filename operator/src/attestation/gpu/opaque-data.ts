/**
 * NVIDIA's opaque data in the SPDM MEASUREMENTS response: TLVs of type (u16 LE), length (u16 LE), value.
 * Type numbers follow NVIDIA's published verifiers; the fields trustgate interprets are decoded into OpaqueClaims.
 */
import { EvidenceError } from "../types.ts";
import { ByteReader } from "../../encoding/byte-reader.ts";

export const OPAQUE_FIELD_NAMES: Readonly<Record<number, string>> = {
  1: "CERT_ISSUER_NAME",
  2: "CERT_AUTHORITY_KEY_IDENTIFIER",
  3: "DRIVER_VERSION",
  4: "GPU_INFO",
  5: "SKU",
  6: "VBIOS_VERSION",
  7: "MANUFACTURER_ID",
  8: "TAMPER_DETECTION",
  9: "SMC",
  10: "VPR",
  11: "NVDEC0_STATUS",
  12: "MSRSCNT",
  13: "CPRINFO",
  14: "BOARD_ID",
  15: "CHIP_SKU",
  16: "CHIP_SKU_MOD",
  17: "PROJECT",
  18: "PROJECT_SKU",
  19: "PROJECT_SKU_MOD",
  20: "FWID",
  21: "PROTECTED_PCIE_STATUS",
  22: "SWITCH_PDI",
  23: "FLOORSWEPT_PORTS",
  24: "POSITION_ID",
  25: "LOCK_SWITCH_STATUS",
  26: "SWITCH_GPU_PDIS",
  32: "GPU_LINK_CONN",
  33: "SYS_ENABLE_STATUS",
  34: "OPAQUE_DATA_VERSION",
  35: "CHIP_INFO",
  36: "FEATURE_FLAG",
};

const FIELD = {
  driverVersion: 3,
  vbiosVersion: 6,
  measurementCounts: 12,
  chipSku: 15,
  project: 17,
  projectSku: 18,
  fwid: 20,
  pdi: 22,
  switchGpuPdis: 26,
} as const;

/** A PDI (platform device identifier) is 8 bytes; GPU reports list their switches' PDIs back to back. */
export const PDI_LENGTH = 8;

export const FWID_LENGTH = 48;
const GPU_VBIOS_LENGTH = 8;

export interface OpaqueField {
  type: number;
  value: Uint8Array;
}

/** What trustgate reads from the opaque data; absent fields stay undefined. */
export interface OpaqueClaims {
  driverVersion?: string;
  /** `96.00.9F.00.01` form: decoded from 8 bytes on GPUs, ASCII on NVSwitches. */
  vbiosVersion?: string;
  /** SHA-384 firmware digest (48 bytes); absent on older firmware (535/545 drivers). */
  fwid?: Uint8Array;
  project?: string;
  projectSku?: string;
  chipSku?: string;
  /** MSRSCNT: one u32 counter per measurement index. */
  measurementCounts?: number[];
  /**
   * Type 22, 8 bytes each: on a GPU (SWITCH_PDI) the PDIs of the NVSwitches its NVLinks reach; on an NVSwitch
   * (DEVICE_PDI) its own PDI. NVIDIA's PPCIe verifier (nvtrust ppcie-verifier topology/validate_topology.py) reads
   * the GPU's entries byte-reversed and the switch's as is; see switchPdiHex/devicePdiHex.
   */
  pdis?: Uint8Array[];
  /** Type 26 (SWITCH_GPU_PDIS) on an NVSwitch: the PDIs of the GPUs connected to it, 8 bytes each. */
  switchGpuPdis?: Uint8Array[];
}

function pdiList(value: Uint8Array, what: string): Uint8Array[] {
  if (value.length % PDI_LENGTH !== 0)
    throw malformed(`${what} length ${value.length} is not a multiple of ${PDI_LENGTH}`);
  return Array.from({ length: value.length / PDI_LENGTH }, (_, i) =>
    value.subarray(i * PDI_LENGTH, (i + 1) * PDI_LENGTH),
  );
}

/** A switch PDI as a GPU report carries it (little-endian), in the form the switch reports itself. */
export const switchPdiHex = (pdi: Uint8Array): string => Buffer.from(pdi).reverse().toString("hex");
/** A PDI as a switch reports it (its own DEVICE_PDI, its GPUs' SWITCH_GPU_PDIS). */
export const devicePdiHex = (pdi: Uint8Array): string => Buffer.from(pdi).toString("hex");

function malformed(message: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `opaque data: ${message}`);
}

export function opaqueFieldName(type: number): string {
  return OPAQUE_FIELD_NAMES[type] ?? `TYPE_${type}`;
}

/** Splits the opaque data into TLVs; they must fill it exactly, and no type may repeat. */
export function parseOpaqueFields(bytes: Uint8Array): OpaqueField[] {
  const cursor = new ByteReader(bytes, "SPDM evidence");
  const fields: OpaqueField[] = [];
  const seen = new Set<number>();
  while (cursor.remaining > 0) {
    const type = cursor.u16("opaque field type");
    const length = cursor.u16("opaque field length");
    const value = cursor.take(length, `opaque field ${opaqueFieldName(type)}`);
    if (seen.has(type)) throw malformed(`field ${opaqueFieldName(type)} appears twice`);
    seen.add(type);
    fields.push({ type, value });
  }
  return fields;
}

/** Printable ASCII with trailing NULs removed (the device NUL-terminates most strings). */
function asciiText(value: Uint8Array, what: string): string {
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  const text = Buffer.from(value.subarray(0, end)).toString("latin1");
  if (!/^[\x20-\x7e]*$/.test(text)) throw malformed(`${what} is not printable ASCII`);
  return text;
}

/** GPUs encode the VBIOS version in 8 bytes, shown as b3.b2.b1.b0.b4 in hex; NVSwitches send ASCII. */
export function decodeVbiosVersion(value: Uint8Array): string {
  if (value.length !== GPU_VBIOS_LENGTH) return asciiText(value, "VBIOS_VERSION");
  const hex = (i: number): string => (value[i] ?? 0).toString(16).padStart(2, "0").toUpperCase();
  return [hex(3), hex(2), hex(1), hex(0), hex(4)].join(".");
}

function counters(value: Uint8Array): number[] {
  if (value.length % 4 !== 0) throw malformed(`MSRSCNT length ${value.length} is not a multiple of 4`);
  const counts: number[] = [];
  for (let at = 0; at < value.length; at += 4) {
    counts.push(
      ((value[at] ?? 0) |
        ((value[at + 1] ?? 0) << 8) |
        ((value[at + 2] ?? 0) << 16) |
        ((value[at + 3] ?? 0) << 24)) >>>
        0,
    );
  }
  return counts;
}

export function decodeOpaqueClaims(fields: readonly OpaqueField[]): OpaqueClaims {
  const claims: OpaqueClaims = {};
  for (const { type, value } of fields) {
    switch (type) {
      case FIELD.driverVersion:
        claims.driverVersion = asciiText(value, "DRIVER_VERSION");
        break;
      case FIELD.vbiosVersion:
        claims.vbiosVersion = decodeVbiosVersion(value);
        break;
      case FIELD.fwid:
        if (value.length !== FWID_LENGTH)
          throw malformed(`FWID has ${value.length} bytes, not ${FWID_LENGTH}`);
        claims.fwid = value;
        break;
      case FIELD.project:
        claims.project = asciiText(value, "PROJECT");
        break;
      case FIELD.projectSku:
        claims.projectSku = asciiText(value, "PROJECT_SKU");
        break;
      case FIELD.chipSku:
        claims.chipSku = asciiText(value, "CHIP_SKU");
        break;
      case FIELD.measurementCounts:
        claims.measurementCounts = counters(value);
        break;
      case FIELD.pdi:
        claims.pdis = pdiList(value, "SWITCH_PDI/DEVICE_PDI");
        break;
      case FIELD.switchGpuPdis:
        claims.switchGpuPdis = pdiList(value, "SWITCH_GPU_PDIS");
        break;
    }
  }
  return claims;
}
