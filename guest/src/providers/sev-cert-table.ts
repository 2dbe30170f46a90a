/**
 * The SEV-SNP certificate table that configfs-tsm's `auxblob` holds for provider `sev_guest` (GHCB specification,
 * MSG_REPORT_REQ / extended guest request "cert_table"): 24-byte entries { GUID (16 bytes, in the order of its
 * text form), offset u32 LE, length u32 LE } ended by an all-zero entry; offsets count from the table's start and
 * point at DER certificates.
 */
import { derToPem } from "../../../operator/src/crypto/pem.ts";

export const SEV_CERT_GUIDS = {
  ark: "c0b406a4-a803-4952-9743-3fb6014cd0ae",
  ask: "4ab7b379-bbac-4fe4-a02f-05aef327c782",
  vcek: "63da758d-e664-4564-adc5-f4b93be8accd",
  vlek: "a8074bc2-a25a-483e-aae6-39c045a0b8a1",
} as const;

const ENTRY_SIZE = 24;

export interface CertTableEntry {
  guid: string;
  data: Uint8Array;
}

function guidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function guidBytes(guid: string): Uint8Array {
  const hex = guid.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error(`${guid} is not a GUID`);
  return Buffer.from(hex, "hex");
}

export function parseSevCertTable(bytes: Uint8Array): CertTableEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: CertTableEntry[] = [];
  for (let at = 0; ; at += ENTRY_SIZE) {
    if (at + ENTRY_SIZE > bytes.length) throw new Error("SEV certificate table: no terminating zero entry");
    const guid = bytes.subarray(at, at + 16);
    const offset = view.getUint32(at + 16, true);
    const length = view.getUint32(at + 20, true);
    if (guid.every((b) => b === 0) && offset === 0 && length === 0) return entries;
    if (offset + length > bytes.length)
      throw new Error(
        `SEV certificate table: entry ${guidText(guid)} points past the end (${offset}+${length})`,
      );
    if (length > 0) entries.push({ guid: guidText(guid), data: bytes.slice(offset, offset + length) });
  }
}

/** The table for these entries (for tests and the simulated configfs tree). */
export function encodeSevCertTable(entries: readonly CertTableEntry[]): Uint8Array {
  const header = (entries.length + 1) * ENTRY_SIZE;
  const total = entries.reduce((sum, e) => sum + e.data.length, header);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  let offset = header;
  entries.forEach((entry, index) => {
    const at = index * ENTRY_SIZE;
    bytes.set(guidBytes(entry.guid), at);
    view.setUint32(at + 16, offset, true);
    view.setUint32(at + 20, entry.data.length, true);
    bytes.set(entry.data, offset);
    offset += entry.data.length;
  });
  return bytes;
}

export interface SnpCertificates {
  vcek?: string;
  vlek?: string;
  /** ASK (or ASVK) then ARK, PEM. */
  certChain?: string;
}

/** The VCEK/VLEK and chain the host supplied with the report; empty when `auxblob` is empty. */
export function snpCertificatesFromAuxblob(auxblob: Uint8Array): SnpCertificates {
  if (auxblob.length === 0 || auxblob.every((b) => b === 0)) return {};
  const byGuid = new Map(parseSevCertTable(auxblob).map((e) => [e.guid, e.data]));
  const pem = (guid: string): string | undefined => {
    const der = byGuid.get(guid);
    return der === undefined ? undefined : derToPem(der);
  };
  const chain = [pem(SEV_CERT_GUIDS.ask), pem(SEV_CERT_GUIDS.ark)].filter((p) => p !== undefined);
  const vcek = pem(SEV_CERT_GUIDS.vcek);
  const vlek = pem(SEV_CERT_GUIDS.vlek);
  return {
    ...(vcek === undefined ? {} : { vcek }),
    ...(vlek === undefined ? {} : { vlek }),
    ...(chain.length === 0 ? {} : { certChain: chain.join("") }),
  };
}
