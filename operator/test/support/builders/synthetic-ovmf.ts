/**
 * A small OVMF-like image for SNP launch-measurement tests, laid out as OVMF's reset vector does:
 * firmware pages, an "ASEV" SEV metadata header inside the image, and the GUIDed footer table whose
 * footer entry ends 32 bytes before the end. Every part can be broken on purpose.
 */

export const FOOTER_GUID = "96b582de-1fb2-45f7-baea-a366c55a082d";
export const RESET_BLOCK_GUID = "00f771de-1a7e-4fcb-890e-68c77e2fb44e";
export const SEV_METADATA_GUID = "dc886566-984a-4798-a75e-5585a7bf67cc";

export interface SyntheticSection {
  gpa: number;
  size: number;
  type: number;
}

export interface SyntheticOvmfOptions {
  pages?: number;
  sections?: SyntheticSection[];
  resetEip?: number;
  /** Where the metadata header starts, as an offset from the start of the image. */
  metadataAt?: number;
  signature?: string;
  version?: number;
  /** Extra footer entries, or `undefined` to omit one of the standard ones. */
  omit?: ("resetBlock" | "metadata")[];
  extraEntries?: { guid: string; data: Uint8Array }[];
}

/** The sections Debian's OVMF.fd declares, in its order, scaled down: SEC memory, secrets, CPUID, kernel hashes. */
export const DEFAULT_SECTIONS: SyntheticSection[] = [
  { gpa: 0x800000, size: 0x2000, type: 1 },
  { gpa: 0x802000, size: 0x1000, type: 2 },
  { gpa: 0x803000, size: 0x1000, type: 3 },
  { gpa: 0x804000, size: 0x1000, type: 0x10 },
];

/** EFI's mixed-endian GUID layout, written out independently of the library's helper. */
export function efiGuid(guid: string): Buffer {
  const [a = "", b = "", c = "", d = "", e = ""] = guid.split("-");
  const le = (hex: string): Buffer => Buffer.from(hex, "hex").reverse();
  return Buffer.concat([le(a), le(b), le(c), Buffer.from(d + e, "hex")]);
}

function entry(guid: string, data: Uint8Array): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16LE(data.length + 18);
  return Buffer.concat([Buffer.from(data), length, efiGuid(guid)]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}

export function syntheticOvmf(options: SyntheticOvmfOptions = {}): Buffer {
  const pages = options.pages ?? 4;
  const size = pages * 4096;
  const image = Buffer.alloc(size);
  for (let i = 0; i < size; i++) image[i] = (i * 7 + (i >> 12)) & 0xff;
  const sections = options.sections ?? DEFAULT_SECTIONS;
  const metadataAt = options.metadataAt ?? 0x1000;
  const header = Buffer.alloc(16 + 12 * sections.length);
  header.write(options.signature ?? "ASEV", 0, "latin1");
  header.writeUInt32LE(header.length, 4);
  header.writeUInt32LE(options.version ?? 1, 8);
  header.writeUInt32LE(sections.length, 12);
  sections.forEach((s, i) => {
    header.writeUInt32LE(s.gpa, 16 + 12 * i);
    header.writeUInt32LE(s.size, 20 + 12 * i);
    header.writeUInt32LE(s.type, 24 + 12 * i);
  });
  header.copy(image, metadataAt);
  const omit = options.omit ?? [];
  const entries = [
    ...(options.extraEntries ?? []).map((e) => entry(e.guid, e.data)),
    ...(omit.includes("resetBlock") ? [] : [entry(RESET_BLOCK_GUID, u32(options.resetEip ?? 0xffffc004))]),
    ...(omit.includes("metadata") ? [] : [entry(SEV_METADATA_GUID, u32(size - metadataAt))]),
  ];
  const body = Buffer.concat(entries);
  const footer = entry(FOOTER_GUID, Buffer.alloc(0));
  footer.writeUInt16LE(body.length + 18, 0);
  const table = Buffer.concat([body, footer]);
  table.copy(image, size - 32 - table.length);
  return image;
}
