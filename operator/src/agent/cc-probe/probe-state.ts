import type { ParseResult } from "../host-root.ts";
import type { KnownCcMode, PpcieMode } from "../sources/cc-mode/provider.ts";

/**
 * The state file `trustgate cc-probe` writes and the agent reads (`--cc-probe-file`):
 *
 *   { "format": "trustgate-cc-probe/v1", "bootId": "<kernel boot_id>", "writtenAt": "<RFC 3339>",
 *     "tool": "<argv of the tool>",
 *     "devices": {
 *       "0000:18:00.0": { "kind": "gpu", "ccMode": "on", "ppcieMode": "off", "probedAt": "<RFC 3339>" },
 *       "0000:05:00.0": { "kind": "nvswitch", "ppcieMode": "on", "probedAt": "<RFC 3339>" },
 *       "0000:2a:00.0": { "kind": "gpu", "skipped": "in use (PCI enable count 1)", "at": "<RFC 3339>" } } }
 *
 * A GPU's ccMode is what the tool's --query-cc-mode said (on, off, devtools) or `ppcie` when CC is off
 * and --query-ppcie-mode said on; ppcieMode is absent where the tool cannot query it.
 */
export const PROBE_STATE_FORMAT = "trustgate-cc-probe/v1";
export const DEFAULT_PROBE_STATE_FILE = "/run/trustgate/cc-probe.json";

export type ProbedDevice =
  | { kind: "gpu"; ccMode: KnownCcMode; ppcieMode?: PpcieMode; probedAt: string }
  | { kind: "nvswitch"; ppcieMode: PpcieMode; probedAt: string }
  | { kind: "gpu" | "nvswitch"; skipped: string; at: string };

export interface ProbeState {
  format: typeof PROBE_STATE_FORMAT;
  bootId: string;
  writtenAt: string;
  tool: string;
  devices: Record<string, ProbedDevice>;
}

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
export const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const GPU_MODES = new Set(["on", "off", "devtools", "ppcie"]);
const PPCIE_MODES = new Set(["on", "off"]);
const MAX_DEVICES = 64;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): value is string {
  return typeof value === "string" && value.length <= 40 && !Number.isNaN(Date.parse(value));
}

function parseDevice(bdf: string, entry: unknown): ParseResult<ProbedDevice> {
  const bad = (what: string): ParseResult<ProbedDevice> => ({ ok: false, reason: `device ${bdf}: ${what}` });
  if (!isRecord(entry)) return bad("not an object");
  const kind = entry["kind"];
  if (kind !== "gpu" && kind !== "nvswitch") return bad(`kind must be gpu or nvswitch`);
  if (entry["skipped"] !== undefined) {
    const skipped = entry["skipped"];
    if (typeof skipped !== "string" || skipped.length > 256) return bad("skipped must be a short text");
    if (!isTime(entry["at"])) return bad("at must be an RFC 3339 time");
    return { ok: true, value: { kind, skipped, at: entry["at"] } };
  }
  if (!isTime(entry["probedAt"])) return bad("probedAt must be an RFC 3339 time");
  const ppcie = entry["ppcieMode"];
  if (ppcie !== undefined && (typeof ppcie !== "string" || !PPCIE_MODES.has(ppcie)))
    return bad("ppcieMode must be on or off");
  if (kind === "nvswitch") {
    if (ppcie === undefined) return bad("an NVSwitch needs ppcieMode");
    return { ok: true, value: { kind, ppcieMode: ppcie as PpcieMode, probedAt: entry["probedAt"] } };
  }
  const cc = entry["ccMode"];
  if (typeof cc !== "string" || !GPU_MODES.has(cc)) return bad("ccMode must be on, off, devtools or ppcie");
  return {
    ok: true,
    value: {
      kind,
      ccMode: cc as KnownCcMode,
      ...(ppcie === undefined ? {} : { ppcieMode: ppcie as PpcieMode }),
      probedAt: entry["probedAt"],
    },
  };
}

export function parseProbeState(text: string): ParseResult<ProbeState> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  if (!isRecord(parsed)) return { ok: false, reason: "not a JSON object" };
  if (parsed["format"] !== PROBE_STATE_FORMAT)
    return { ok: false, reason: `format must be ${PROBE_STATE_FORMAT}` };
  const bootId = parsed["bootId"];
  if (typeof bootId !== "string" || !BOOT_ID.test(bootId))
    return { ok: false, reason: "bootId is not a boot ID" };
  if (!isTime(parsed["writtenAt"])) return { ok: false, reason: "writtenAt must be an RFC 3339 time" };
  const tool = parsed["tool"];
  if (typeof tool !== "string" || tool.length > 512)
    return { ok: false, reason: "tool must be a short text" };
  const devices = parsed["devices"];
  if (!isRecord(devices)) return { ok: false, reason: "devices must be an object" };
  const entries = Object.entries(devices);
  if (entries.length > MAX_DEVICES) return { ok: false, reason: `more than ${MAX_DEVICES} devices` };
  const out: Record<string, ProbedDevice> = {};
  for (const [bdf, entry] of entries) {
    if (!BDF.test(bdf))
      return { ok: false, reason: `${JSON.stringify(bdf.slice(0, 32))} is not a PCI address` };
    const device = parseDevice(bdf, entry);
    if (!device.ok) return device;
    out[bdf] = device.value;
  }
  return {
    ok: true,
    value: { format: PROBE_STATE_FORMAT, bootId, writtenAt: parsed["writtenAt"], tool, devices: out },
  };
}

export function serializeProbeState(state: ProbeState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** The kernel's boot ID (a random UUID per boot, not namespaced): ties the state file to this boot. */
export const BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id";

export function parseBootId(text: string): ParseResult<string> {
  return BOOT_ID.test(text) ? { ok: true, value: text } : { ok: false, reason: "not a boot ID (UUID)" };
}
