/**
 * TCG PC Client event types (TCG PC Client Platform Firmware Profile, section 10.4.1) and, for the types whose digest
 * is defined as the hash of the logged data, that expected digest: then the data (a command line, a Secure Boot
 * variable) is as trustworthy as the replayed digest. For the other types (firmware volumes, PE images, files read
 * by a boot loader) the digest is of something not in the log, and the data is only a description.
 */
import { hash } from "node:crypto";

export const EVENT_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0, "EV_PREBOOT_CERT"],
  [0x1, "EV_POST_CODE"],
  [0x3, "EV_NO_ACTION"],
  [0x4, "EV_SEPARATOR"],
  [0x5, "EV_ACTION"],
  [0x6, "EV_EVENT_TAG"],
  [0x7, "EV_S_CRTM_CONTENTS"],
  [0x8, "EV_S_CRTM_VERSION"],
  [0x9, "EV_CPU_MICROCODE"],
  [0xa, "EV_PLATFORM_CONFIG_FLAGS"],
  [0xb, "EV_TABLE_OF_DEVICES"],
  [0xc, "EV_COMPACT_HASH"],
  [0xd, "EV_IPL"],
  [0xe, "EV_IPL_PARTITION_DATA"],
  [0xf, "EV_NONHOST_CODE"],
  [0x10, "EV_NONHOST_CONFIG"],
  [0x11, "EV_NONHOST_INFO"],
  [0x12, "EV_OMIT_BOOT_DEVICE_EVENTS"],
  [0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG"],
  [0x80000002, "EV_EFI_VARIABLE_BOOT"],
  [0x80000003, "EV_EFI_BOOT_SERVICES_APPLICATION"],
  [0x80000004, "EV_EFI_BOOT_SERVICES_DRIVER"],
  [0x80000005, "EV_EFI_RUNTIME_SERVICES_DRIVER"],
  [0x80000006, "EV_EFI_GPT_EVENT"],
  [0x80000007, "EV_EFI_ACTION"],
  [0x80000008, "EV_EFI_PLATFORM_FIRMWARE_BLOB"],
  [0x80000009, "EV_EFI_HANDOFF_TABLES"],
  [0x8000000a, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"],
  [0x8000000b, "EV_EFI_HANDOFF_TABLES2"],
  [0x8000000c, "EV_EFI_VARIABLE_BOOT2"],
  [0x80000010, "EV_EFI_HCRTM_EVENT"],
  [0x800000e0, "EV_EFI_VARIABLE_AUTHORITY"],
  [0x800000e1, "EV_EFI_SPDM_FIRMWARE_BLOB"],
  [0x800000e2, "EV_EFI_SPDM_FIRMWARE_CONFIG"],
]);

export const EV_SEPARATOR = 0x4;
export const EV_EVENT_TAG = 0x6;
export const EV_IPL = 0xd;
export const EV_EFI_VARIABLE_DRIVER_CONFIG = 0x80000001;
export const EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003;
export const EV_EFI_GPT_EVENT = 0x80000006;
export const EV_EFI_ACTION = 0x80000007;
export const EV_EFI_VARIABLE_AUTHORITY = 0x800000e0;

export function eventTypeName(type: number): string {
  return EVENT_TYPE_NAMES.get(type) ?? `0x${type.toString(16).padStart(8, "0")}`;
}

/** The prefixes GRUB logs before a measured command or kernel command line; GRUB hashes the text after them. */
export const GRUB_STRING_PREFIXES = ["grub_cmd: ", "kernel_cmdline: "] as const;

const sha384 = (bytes: Uint8Array): Buffer => hash("sha384", bytes, "buffer");

function withoutTrailingNul(bytes: Uint8Array): Uint8Array {
  return bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.subarray(0, bytes.length - 1) : bytes;
}

/** A GRUB string event's text after its prefix, or undefined for other EV_IPL data. */
export function grubString(data: Uint8Array): { prefix: string; text: string } | undefined {
  const head = grubHead(data);
  if (head === undefined) return undefined;
  const text = Buffer.from(withoutTrailingNul(data)).toString("utf8");
  return { prefix: head.prefix, text: text.slice(head.prefix.length) };
}

const HEAD_BYTES = 40;

/** The prefix and first word of a GRUB string event, read from its first bytes only (logs hold long menuentries). */
export function grubHead(data: Uint8Array): { prefix: string; command: string } | undefined {
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, HEAD_BYTES)).toString(
    "latin1",
  );
  const prefix = GRUB_STRING_PREFIXES.find((candidate) => head.startsWith(candidate));
  if (prefix === undefined) return undefined;
  return { prefix, command: /^[^ \0\n]*/.exec(head.slice(prefix.length))?.[0] ?? "" };
}

/**
 * The digest the event's own data implies, for the types whose digest the spec (or GRUB, for its string events)
 * defines as a hash of the logged data; undefined when the digest is of something the log does not hold.
 */
export function dataDigest(type: number, data: Uint8Array): Buffer | undefined {
  switch (type) {
    case EV_SEPARATOR:
    case EV_EFI_ACTION:
    case EV_EFI_GPT_EVENT:
    case EV_EFI_VARIABLE_DRIVER_CONFIG:
    case EV_EFI_VARIABLE_AUTHORITY:
      return sha384(data);
    case EV_IPL: {
      const grub = grubString(data);
      return grub === undefined ? undefined : sha384(Buffer.from(grub.text, "utf8"));
    }
    default:
      return undefined;
  }
}

export const GRUB_LOAD_COMMANDS = new Set(["linux", "linuxefi", "initrd", "initrdefi"]);

/**
 * Whether the event-level claims read this event's data (not only its digest): Secure Boot and other UEFI variables,
 * GRUB's kernel command line and its linux/initrd commands. When a log replays, only these events' data-to-digest
 * binding needs checking; changing any other event's data can only make a claim disappear, never appear.
 */
export function claimsReadData(type: number, data: Uint8Array): boolean {
  if (type === EV_EFI_VARIABLE_DRIVER_CONFIG) return true;
  if (type !== EV_IPL) return false;
  const grub = grubHead(data);
  if (grub === undefined) return false;
  return grub.prefix === "kernel_cmdline: " || GRUB_LOAD_COMMANDS.has(grub.command);
}
