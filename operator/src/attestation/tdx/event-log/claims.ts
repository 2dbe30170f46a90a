/**
 * What booted, from a replayed event log: each event classified (the claim it contributes, or unknown) and the
 * boot claims a policy can pin. Claims come from digests (authenticated by the replay), from data bound to its digest
 * (command lines, GRUB commands, Secure Boot variables: see dataDigest), and from the order of events; never from data
 * a digest does not cover (a file path or an image's device path is only shown as a description).
 *
 * - kernel: the first file GRUB read after its last `linux` command (EV_IPL); without GRUB, the last
 *   EV_EFI_BOOT_SERVICES_APPLICATION (a UKI or EFI-stub kernel started by the firmware or systemd-boot).
 * - initrd: the files GRUB read after its last `initrd` command, or the Linux EFI stub's tagged initrd event.
 * - cmdline: GRUB's `kernel_cmdline:` event, or systemd-stub's UTF-16 EV_IPL command line (bound to its digest).
 * - secureBootVariables: the EV_EFI_VARIABLE_DRIVER_CONFIG events of SecureBoot, PK, KEK, db and dbx.
 */
import { hash } from "node:crypto";
import type { Claims } from "../../types.ts";
import { toHex } from "../hex.ts";
import {
  EV_EFI_BOOT_SERVICES_APPLICATION,
  EV_EFI_VARIABLE_DRIVER_CONFIG,
  EV_EVENT_TAG,
  EV_IPL,
  EV_SEPARATOR,
  eventTypeName,
  grubHead,
  grubString,
} from "./event-types.ts";
import type { TdEvent } from "./parse.ts";
import { describeEvent, rtmrOf } from "./replay.ts";

export const SECURE_BOOT_VARIABLES = ["SecureBoot", "PK", "KEK", "db", "dbx"] as const;
export type SecureBootVariable = (typeof SECURE_BOOT_VARIABLES)[number];

/** Linux EFI stub tagged-event IDs (drivers/firmware/efi/libstub). */
const LINUX_INITRD_TAG = 0x8f3b22ed;
const LINUX_LOAD_OPTIONS_TAG = 0x8f3b22ee;

export type EventClaim =
  | "kernel"
  | "initrd"
  | "cmdline"
  | "cmdlineDigest"
  | `secureBootVariable:${SecureBootVariable}`
  | "separator"
  | "bootApplication"
  | "grubCommand"
  | "grubFile"
  | "uefiVariable"
  | "firmware"
  | "other";

export interface ClassifiedEvent {
  event: TdEvent;
  claim: EventClaim | "unknown";
  /** For cmdline: the text; for a Secure Boot or other UEFI variable: its name (and for SecureBoot its value). */
  value?: string;
}

export interface EventLogClaims {
  events: ClassifiedEvent[];
  kernel?: ClassifiedEvent;
  initrd: ClassifiedEvent[];
  cmdline?: ClassifiedEvent;
  secureBootVariables: Partial<Record<SecureBootVariable, ClassifiedEvent>>;
  /** SecureBoot variable value 1; undefined when the log has no SecureBoot variable event. */
  secureBoot?: boolean;
  unknown: ClassifiedEvent[];
}

/** Event types whose meaning needs nothing more than the type: firmware, tables, partition and authority events. */
const FIRMWARE_TYPES = new Set([
  0x5, 0x7, 0x8, 0x9, 0xa, 0xb, 0x80000002, 0x80000004, 0x80000005, 0x80000006, 0x80000007, 0x80000008,
  0x80000009, 0x8000000a, 0x8000000b, 0x8000000c, 0x80000010, 0x800000e0, 0x800000e1, 0x800000e2,
]);
/** shim's EV_IPL measurements of its MOK variables (the data is the variable name). */
const SHIM_VARIABLES = new Set(["MokList", "MokListX", "MokListTrusted", "MokSBState", "SbatLevel"]);

/** UEFI_VARIABLE_DATA: VariableName GUID, name length (chars), data length, UTF-16 name, data. */
export function uefiVariable(data: Uint8Array): { name: string; value: Uint8Array } | undefined {
  if (data.length < 32) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const nameLength = Number(view.getBigUint64(16, true));
  const valueLength = Number(view.getBigUint64(24, true));
  if (32 + nameLength * 2 + valueLength > data.length) return undefined;
  const name = Buffer.from(data.subarray(32, 32 + nameLength * 2)).toString("utf16le");
  return { name, value: data.subarray(32 + nameLength * 2, 32 + nameLength * 2 + valueLength) };
}

function utf16Text(data: Uint8Array): string | undefined {
  if (data.length < 2 || data.length % 2 !== 0) return undefined;
  const text = Buffer.from(data).toString("utf16le").replace(/\0+$/, "");
  return /^[\x20-\x7e]+$/.test(text) ? text : undefined;
}

function tagOf(event: TdEvent): number | undefined {
  if (event.eventType !== EV_EVENT_TAG || event.data.length < 8) return undefined;
  return new DataView(event.data.buffer, event.data.byteOffset, 4).getUint32(0, true);
}

function classifyOne(
  event: TdEvent,
  state: { grubLoad?: "kernel" | "initrd"; initrdLeft: number },
): ClassifiedEvent {
  const type = event.eventType;
  if (type === EV_SEPARATOR) return { event, claim: "separator" };
  if (type === EV_EFI_VARIABLE_DRIVER_CONFIG) {
    const variable = uefiVariable(event.data);
    const name = SECURE_BOOT_VARIABLES.find((candidate) => candidate === variable?.name);
    if (variable === undefined) return { event, claim: "unknown" };
    if (name === undefined) return { event, claim: "uefiVariable", value: variable.name };
    const value = name === "SecureBoot" ? `SecureBoot=${String(variable.value[0] ?? "")}` : name;
    return { event, claim: `secureBootVariable:${name}`, value };
  }
  if (type === EV_EFI_BOOT_SERVICES_APPLICATION) return { event, claim: "bootApplication" };
  if (type === EV_EVENT_TAG) {
    const tag = tagOf(event);
    if (tag === LINUX_INITRD_TAG) return { event, claim: "initrd" };
    if (tag === LINUX_LOAD_OPTIONS_TAG) return { event, claim: "cmdlineDigest" };
    return { event, claim: "unknown" };
  }
  if (type === EV_IPL) {
    const grub = grubHead(event.data);
    if (grub !== undefined) {
      if (grub.prefix === "kernel_cmdline: ")
        return { event, claim: "cmdline", value: grubString(event.data)?.text ?? "" };
      if (grub.command === "linux" || grub.command === "linuxefi") state.grubLoad = "kernel";
      if (grub.command === "initrd" || grub.command === "initrdefi") {
        state.grubLoad = "initrd";
        const words = (grubString(event.data)?.text ?? "").split(" ").slice(1);
        state.initrdLeft = words.filter((word) => word !== "" && !word.startsWith("-")).length;
      }
      return { event, claim: "grubCommand" };
    }
    const text =
      event.data.length <= 32 ? Buffer.from(event.data).toString("latin1").replace(/\0+$/, "") : "";
    // The name is not bound to the digest: while GRUB is loading a file, a "MokList" event is that file all the same.
    if (state.grubLoad === undefined && SHIM_VARIABLES.has(text)) {
      return { event, claim: "uefiVariable", value: text };
    }
    const commandLine = utf16Text(event.data);
    // systemd-stub logs the command line as UTF-16 and measures exactly those bytes.
    if (commandLine !== undefined && hash("sha384", event.data, "buffer").equals(event.sha384)) {
      return { event, claim: "cmdline", value: commandLine };
    }
    // A file GRUB read: its digest covers the file, the path is only a description.
    if (state.grubLoad === "kernel") {
      state.grubLoad = undefined;
      return { event, claim: "kernel" };
    }
    if (state.grubLoad === "initrd" && state.initrdLeft > 0) {
      state.initrdLeft--;
      if (state.initrdLeft === 0) state.grubLoad = undefined;
      return { event, claim: "initrd" };
    }
    return { event, claim: "grubFile" };
  }
  if (FIRMWARE_TYPES.has(type)) return { event, claim: "firmware" };
  return { event, claim: "unknown" };
}

/**
 * Classifies every event of a log that replayed (replayErrors refused any event whose digest contradicts its data,
 * so the data read here is bound) and picks the boot claims.
 */
export function eventLogClaims(events: readonly TdEvent[]): EventLogClaims {
  const state: { grubLoad?: "kernel" | "initrd"; initrdLeft: number } = { initrdLeft: 0 };
  const classified = events
    .filter((event) => rtmrOf(event) !== undefined)
    .map((event) => classifyOne(event, state));
  const grubKernels = classified.filter((entry) => entry.claim === "kernel");
  const applications = classified.filter((entry) => entry.claim === "bootApplication");
  const kernel = grubKernels.at(-1) ?? applications.at(-1);
  const secureBootVariables: Partial<Record<SecureBootVariable, ClassifiedEvent>> = {};
  for (const entry of classified) {
    const name = SECURE_BOOT_VARIABLES.find((variable) => entry.claim === `secureBootVariable:${variable}`);
    if (name !== undefined) secureBootVariables[name] ??= entry;
  }
  const secureBootValue = secureBootVariables.SecureBoot?.value;
  const cmdline = classified.filter((entry) => entry.claim === "cmdline").at(-1);
  return {
    events: classified,
    ...(kernel === undefined ? {} : { kernel }),
    initrd: classified.filter((entry) => entry.claim === "initrd"),
    ...(cmdline === undefined ? {} : { cmdline }),
    secureBootVariables,
    ...(secureBootValue === undefined ? {} : { secureBoot: secureBootValue === "SecureBoot=1" }),
    unknown: classified.filter((entry) => entry.claim === "unknown"),
  };
}

/** The boot claims as verification claims (`tee.claims`, and the signed result): digests as lowercase hex. */
export function bootClaimValues(claims: EventLogClaims): Claims {
  const values: Claims = { initrd: claims.initrd.map(({ event }) => toHex(event.sha384)) };
  if (claims.kernel !== undefined) values.kernel = toHex(claims.kernel.event.sha384);
  if (claims.cmdline?.value !== undefined) values.cmdline = claims.cmdline.value;
  if (claims.secureBoot !== undefined) values.secureBoot = claims.secureBoot;
  return values;
}

/** One row of `tee.events`: what `trustgate verify` shows per event. */
export interface EventRow {
  index: number;
  rtmr: number;
  type: string;
  digest: string;
  /** What the event counts as (kernel, cmdline, secureBootVariable:PK, firmware, ..., unknown). */
  claim: string;
  /** The event as text: type and, for text data, the text. */
  description: string;
  /** The claim's value from data bound to the digest: a command line, a variable name, SecureBoot=0|1. */
  value?: string;
}

export function eventRows(claims: EventLogClaims): EventRow[] {
  return claims.events.map(({ event, claim, value }) => ({
    index: event.index,
    rtmr: rtmrOf(event) ?? -1,
    type: eventTypeName(event.eventType),
    digest: toHex(event.sha384),
    claim: claim === "bootApplication" && claims.kernel?.event === event ? "kernel" : claim,
    description: describeEvent(event),
    ...(value === undefined ? {} : { value }),
  }));
}
