/**
 * Parser for the parts of an OVMF image that SEV-SNP launch measures: the GUIDed footer table that
 * OVMF's reset vector carries near the end of the image, the SEV metadata (OvmfSevMetadata.asm) it
 * points to, and the SEV-ES reset block giving the APs' start address.
 */
import { LaunchMeasurementError } from "./errors.ts";

export const PAGE_SIZE = 4096;
const FOUR_GIB = 2 ** 32;
/** A resource bound, not a format limit: OVMF images are 1–4 MiB; reading more is a mistake. */
export const MAX_OVMF_BYTES = 64 * 1024 * 1024;

export const OVMF_TABLE_FOOTER_GUID = "96b582de-1fb2-45f7-baea-a366c55a082d";
export const SEV_ES_RESET_BLOCK_GUID = "00f771de-1a7e-4fcb-890e-68c77e2fb44e";
export const OVMF_SEV_METADATA_GUID = "dc886566-984a-4798-a75e-5585a7bf67cc";

/** The footer table ends this many bytes before the end of the image (OVMF ResetVectorVtf0.asm). */
const FOOTER_TABLE_END_FROM_IMAGE_END = 32;
/** Each table entry ends with a u16 length (of the whole entry) and a 16-byte GUID. */
const ENTRY_HEADER_BYTES = 2 + 16;
const METADATA_SIGNATURE = "ASEV";
const METADATA_HEADER_BYTES = 16;
const METADATA_DESCRIPTOR_BYTES = 12;

export const SectionType = {
  SnpSecMemory: 1,
  SnpSecrets: 2,
  Cpuid: 3,
  SvsmCaa: 4,
  SnpKernelHashes: 0x10,
} as const;
export type SectionTypeName = keyof typeof SectionType;

export interface SevMetadataSection {
  type: SectionTypeName;
  gpa: number;
  size: number;
}

export interface OvmfImage {
  bytes: Uint8Array;
  /** Guest physical address QEMU maps the image at: it ends at 4 GiB. */
  gpa: number;
  /** Footer-table entries by lowercase GUID string, data without the entry header. */
  table: ReadonlyMap<string, Uint8Array>;
  sections: readonly SevMetadataSection[];
  /** The APs' first instruction address (SEV-ES reset block). */
  resetEip: number;
}

/** GUID string to its 16 bytes in the mixed-endian order EFI stores (first three fields little-endian). */
export function guidBytes(guid: string): Uint8Array {
  const hex = guid.replaceAll("-", "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a GUID: ${guid}`);
  const raw = Buffer.from(hex, "hex");
  return Uint8Array.from([
    ...raw.subarray(0, 4).reverse(),
    ...raw.subarray(4, 6).reverse(),
    ...raw.subarray(6, 8).reverse(),
    ...raw.subarray(8),
  ]);
}

export function guidString(bytes: Uint8Array): string {
  const b = Buffer.from(bytes);
  const hex = (start: number, end: number, reverse: boolean): string => {
    const part = Buffer.from(b.subarray(start, end));
    return (reverse ? part.reverse() : part).toString("hex");
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join("-");
}

function notOvmf(message: string): LaunchMeasurementError {
  return new LaunchMeasurementError("NotOvmf", `not an OVMF image with a GUIDed footer table: ${message}`);
}

export function parseFooterTable(image: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const footerStart = image.length - FOOTER_TABLE_END_FROM_IMAGE_END - ENTRY_HEADER_BYTES;
  if (footerStart < 0) throw notOvmf(`image of ${image.length} bytes is too small to hold one`);
  const footerGuid = guidString(image.subarray(footerStart + 2, footerStart + ENTRY_HEADER_BYTES));
  if (footerGuid !== OVMF_TABLE_FOOTER_GUID) {
    throw notOvmf(
      `no table footer GUID ${OVMF_TABLE_FOOTER_GUID} at offset 0x${(footerStart + 2).toString(16)}`,
    );
  }
  const tableBytes = view.getUint16(footerStart, true) - ENTRY_HEADER_BYTES;
  if (tableBytes < 0 || tableBytes > footerStart) {
    throw notOvmf(`footer table length ${tableBytes + ENTRY_HEADER_BYTES} does not fit the image`);
  }
  const table = new Map<string, Uint8Array>();
  let end = footerStart;
  const start = footerStart - tableBytes;
  while (end > start) {
    if (end - start < ENTRY_HEADER_BYTES)
      throw notOvmf(`${end - start} stray bytes at the start of the footer table`);
    const headerAt = end - ENTRY_HEADER_BYTES;
    const entryBytes = view.getUint16(headerAt, true);
    if (entryBytes < ENTRY_HEADER_BYTES || entryBytes > end - start) {
      throw notOvmf(
        `footer table entry ending at offset 0x${end.toString(16)} has invalid length ${entryBytes}`,
      );
    }
    const guid = guidString(image.subarray(headerAt + 2, end));
    if (table.has(guid)) throw notOvmf(`footer table lists GUID ${guid} twice`);
    table.set(guid, image.subarray(end - entryBytes, headerAt));
    end -= entryBytes;
  }
  return table;
}

function u32At(data: Uint8Array, what: string): number {
  if (data.length < 4) throw notOvmf(`${what} entry holds ${data.length} bytes, expected at least 4`);
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true);
}

function sectionTypeName(value: number, index: number): SectionTypeName {
  const entry = Object.entries(SectionType).find(([, v]) => v === value);
  if (entry === undefined) {
    throw new LaunchMeasurementError(
      "UnknownSectionType",
      `SEV metadata section ${index} has unknown type 0x${value.toString(16)} (known: ${Object.entries(
        SectionType,
      )
        .map(([name, v]) => `${name}=0x${v.toString(16)}`)
        .join(", ")})`,
    );
  }
  return entry[0] as SectionTypeName;
}

function malformed(message: string): LaunchMeasurementError {
  return new LaunchMeasurementError("MalformedSevMetadata", `SEV metadata: ${message}`);
}

export function parseSevMetadata(
  image: Uint8Array,
  table: ReadonlyMap<string, Uint8Array>,
): SevMetadataSection[] {
  const entry = table.get(OVMF_SEV_METADATA_GUID);
  if (entry === undefined) {
    throw new LaunchMeasurementError(
      "NoSevMetadata",
      `the OVMF footer table has no SEV metadata entry (GUID ${OVMF_SEV_METADATA_GUID}); this firmware was not built for SEV-SNP`,
    );
  }
  const offsetFromEnd = u32At(entry, "SEV metadata");
  if (offsetFromEnd < METADATA_HEADER_BYTES || offsetFromEnd > image.length) {
    throw malformed(
      `header offset ${offsetFromEnd} from the end lies outside the ${image.length}-byte image`,
    );
  }
  const start = image.length - offsetFromEnd;
  const view = new DataView(image.buffer, image.byteOffset + start, offsetFromEnd);
  const signature = Buffer.from(image.subarray(start, start + 4)).toString("latin1");
  if (signature !== METADATA_SIGNATURE)
    throw malformed(`signature ${JSON.stringify(signature)}, expected "ASEV"`);
  const headerSize = view.getUint32(4, true);
  const version = view.getUint32(8, true);
  const count = view.getUint32(12, true);
  if (version !== 1) throw malformed(`version ${version}, only version 1 is known`);
  const needed = METADATA_HEADER_BYTES + count * METADATA_DESCRIPTOR_BYTES;
  if (headerSize < needed || headerSize > offsetFromEnd) {
    throw malformed(
      `size ${headerSize} cannot hold ${count} sections inside the image (need ${needed} bytes)`,
    );
  }
  const sections: SevMetadataSection[] = [];
  for (let i = 0; i < count; i++) {
    const at = METADATA_HEADER_BYTES + i * METADATA_DESCRIPTOR_BYTES;
    const gpa = view.getUint32(at, true);
    const size = view.getUint32(at + 4, true);
    const type = sectionTypeName(view.getUint32(at + 8, true), i);
    sections.push({ type, gpa, size });
  }
  checkSections(sections, FOUR_GIB - image.length);
  return sections;
}

function checkSections(sections: readonly SevMetadataSection[], firmwareGpa: number): void {
  const outOfRange = (i: number, why: string): LaunchMeasurementError => {
    const s = sections[i];
    const range = s === undefined ? "" : ` [0x${s.gpa.toString(16)}, 0x${(s.gpa + s.size).toString(16)})`;
    return new LaunchMeasurementError(
      "SectionOutOfRange",
      `SEV metadata section ${i} (${s?.type ?? "?"})${range} ${why}`,
    );
  };
  sections.forEach((s, i) => {
    if (s.gpa % PAGE_SIZE !== 0 || s.size % PAGE_SIZE !== 0 || s.size === 0) {
      throw outOfRange(i, "is not a non-empty run of whole 4 KiB pages");
    }
    if (s.gpa + s.size > firmwareGpa)
      throw outOfRange(i, `overlaps the firmware mapped at 0x${firmwareGpa.toString(16)}`);
    if ((s.type === "SnpSecrets" || s.type === "Cpuid") && s.size !== PAGE_SIZE) {
      throw outOfRange(i, `is ${s.size} bytes; a ${s.type} section is exactly one page`);
    }
    const other = sections.findIndex((o, j) => j < i && o.gpa < s.gpa + s.size && s.gpa < o.gpa + o.size);
    if (other !== -1) throw outOfRange(i, `overlaps section ${other}`);
  });
}

/** Parses and checks an OVMF image for SNP launch measurement; throws LaunchMeasurementError naming what is wrong. */
export function parseOvmf(image: Uint8Array): OvmfImage {
  if (image.length === 0 || image.length % PAGE_SIZE !== 0) {
    throw notOvmf(`size ${image.length} is not a positive multiple of 4096 bytes`);
  }
  if (image.length > MAX_OVMF_BYTES) throw notOvmf(`size ${image.length} exceeds ${MAX_OVMF_BYTES} bytes`);
  const table = parseFooterTable(image);
  const sections = parseSevMetadata(image, table);
  const resetBlock = table.get(SEV_ES_RESET_BLOCK_GUID);
  if (resetBlock === undefined) {
    throw new LaunchMeasurementError(
      "NoResetBlock",
      `the OVMF footer table has no SEV-ES reset block (GUID ${SEV_ES_RESET_BLOCK_GUID}), so the APs' start address is unknown`,
    );
  }
  return {
    bytes: image,
    gpa: FOUR_GIB - image.length,
    table,
    sections,
    resetEip: u32At(resetBlock, "SEV-ES reset block"),
  };
}
