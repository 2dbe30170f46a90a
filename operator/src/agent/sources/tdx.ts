import { describeFailure, type HostRoot, type ParseResult } from "../host-root.ts";
import { readMiscCapacity } from "./misc-cgroup.ts";
import { parseHex, parseKernelBool, parseLine, valueOf } from "./read-helpers.ts";
import type { Source, SourceOutput } from "./source.ts";
import { teeStateFrom, type TeeFacts } from "./tee-state.ts";

const KVM_INTEL = "/sys/module/kvm_intel";
/** Newer kernels (tdx-host faux device): "major.minor.update", e.g. 1.5.06. */
const FAUX_VERSION = "/sys/devices/faux/tdx_host/version";
/**
 * The P-SEAMLDR version, same format, next to `version` in kernels with TDX module runtime update.
 * Admin-only (0400: reading it is a slow, serialized SEAMLDR call) and hidden where the CPU cannot
 * update the module at runtime, so a missing or unreadable file only leaves the detail out.
 */
const FAUX_SEAMLDR_VERSION = "/sys/devices/faux/tdx_host/seamldr_version";
/** Intel's TDX host kernels before upstream: TDSYSINFO_STRUCT fields, hex with 0x. */
const LEGACY_MODULE_DIR = "/sys/firmware/tdx/tdx_module";

const DEBUG_MODULE_BIT = 0x8000_0000;

function parseDottedVersion(text: string): ParseResult<string> {
  const line = parseLine(64)(text);
  if (!line.ok) return line;
  return /^\d+(\.\d+){1,4}$/.test(line.value)
    ? line
    : { ok: false, reason: `expected a dotted version, got ${JSON.stringify(line.value)}` };
}

function parseStatus(text: string): ParseResult<string> {
  return /^[a-z]{1,32}$/.test(text) ? { ok: true, value: text } : { ok: false, reason: "unexpected status" };
}

/** Module version from the legacy sysfs ABI, plus its build and attributes as details. */
async function legacyModuleVersion(
  host: HostRoot,
  problems: string[],
  details: Record<string, string>,
): Promise<{ version?: string; status?: string }> {
  const dir = await host.entryType(LEGACY_MODULE_DIR);
  if (dir.kind !== "value") return {};
  const read = (name: string) => host.readValue(`${LEGACY_MODULE_DIR}/${name}`, parseHex);
  const [major, minor, buildNum, attributes, status, buildDate] = await Promise.all([
    read("major_version"),
    read("minor_version"),
    read("build_num"),
    read("attributes"),
    host.readValue(`${LEGACY_MODULE_DIR}/status`, parseStatus),
    host.readValue(`${LEGACY_MODULE_DIR}/build_date`, parseLine(16)),
  ]);
  const statusValue = valueOf(status, problems, true);
  if (statusValue !== undefined) details["tdxModuleStatus"] = statusValue;
  const build = valueOf(buildNum, problems, true);
  if (build !== undefined) details["tdxModuleBuild"] = String(build);
  const date = valueOf(buildDate, problems, true);
  if (date !== undefined) details["tdxModuleBuildDate"] = date;
  const attrs = valueOf(attributes, problems, true);
  if (attrs !== undefined) {
    details["tdxModuleAttributes"] = `0x${attrs.toString(16)}`;
    if ((attrs & DEBUG_MODULE_BIT) !== 0) {
      details["tdxModuleDebug"] = "true";
      problems.push("TDX module is a debug build (attributes bit 31)");
    }
  }
  const majorValue = valueOf(major, problems);
  const minorValue = valueOf(minor, problems);
  const version =
    majorValue !== undefined && minorValue !== undefined ? `${majorValue}.${minorValue}` : undefined;
  return { version, status: statusValue };
}

export const tdxSource: Source<TeeFacts> = {
  name: "tdx",
  async scan({ host }): Promise<SourceOutput<TeeFacts>> {
    const problems: string[] = [];
    const details: Record<string, string> = {};
    const [param, module] = await Promise.all([
      host.readValue(`${KVM_INTEL}/parameters/tdx`, parseKernelBool),
      host.entryType(KVM_INTEL),
    ]);
    let state = teeStateFrom(param, module.kind === "value", problems, details, "kvmIntelTdx");
    if (state === "absent" || state === "unknown") return { facts: { state }, details, problems };

    const [capacity, fauxVersion, seamldr, legacy] = await Promise.all([
      readMiscCapacity(host),
      host.readValue(FAUX_VERSION, parseDottedVersion),
      host.readValue(FAUX_SEAMLDR_VERSION, parseDottedVersion),
      legacyModuleVersion(host, problems, details),
    ]);
    if (seamldr.kind === "value") details["seamldrVersion"] = seamldr.value;
    else if (seamldr.kind === "unreadable") details["seamldrVersion"] = `unreadable (${seamldr.reason})`;
    else if (seamldr.kind === "malformed") problems.push(describeFailure(seamldr));
    let version = valueOf(fauxVersion, problems, true) ?? legacy.version;

    const keys = valueOf(capacity, state === "enabled" ? problems : [], state !== "enabled")?.get("tdx");
    details["tdxKeys"] = keys === undefined ? "unknown" : String(keys);
    if (state === "enabled") {
      if (keys === 0) {
        problems.push("TDX is enabled in KVM but the platform has 0 TDX KeyIDs");
        state = "disabled";
      } else if (keys === undefined && capacity.kind === "value")
        problems.push("/sys/fs/cgroup/misc.capacity has no tdx resource");
      if (legacy.status !== undefined && legacy.status !== "initialized") {
        problems.push(`TDX module status is ${legacy.status}, not initialized`);
        state = "disabled";
      }
      if (version === undefined) {
        problems.push(
          `TDX module version not exposed by this kernel (${FAUX_VERSION}, ${LEGACY_MODULE_DIR})`,
        );
        version = "unknown";
      }
    }
    return { facts: version === undefined ? { state } : { state, version }, details, problems };
  },
};
