import type { ConfidentialHostStatusPlatform } from "../../api/v1alpha1/generated/types.ts";
import type { ParseResult } from "../host-root.ts";
import { readCmdline, relevantCmdline } from "./kernel-cmdline.ts";
import { parseLine, valueOf } from "./read-helpers.ts";
import type { Source, SourceOutput } from "./source.ts";

export const UNKNOWN = "unknown";

/** The platform of a host nothing could be read from. */
export const UNKNOWN_PLATFORM: Readonly<Required<ConfidentialHostStatusPlatform>> = {
  cpuVendor: UNKNOWN,
  cpuModel: UNKNOWN,
  microcode: UNKNOWN,
  biosVendor: UNKNOWN,
  biosVersion: UNKNOWN,
  biosDate: UNKNOWN,
  boardVendor: UNKNOWN,
  boardProduct: UNKNOWN,
  systemProduct: UNKNOWN,
  kernelRelease: UNKNOWN,
};

const DMI_DIR = "/sys/class/dmi/id";
const DMI_FIELDS = [
  ["biosVendor", "bios_vendor"],
  ["biosVersion", "bios_version"],
  ["biosDate", "bios_date"],
  ["boardVendor", "board_vendor"],
  ["boardProduct", "board_name"],
  ["systemProduct", "product_name"],
] as const satisfies readonly (readonly [keyof ConfidentialHostStatusPlatform, string])[];

export interface PlatformFacts {
  platform: Required<ConfidentialHostStatusPlatform>;
}

interface CpuInfo {
  vendor: "intel" | "amd" | "unknown";
  model: string;
  microcode: string;
}

const CPU_VENDORS: Record<string, "intel" | "amd"> = { GenuineIntel: "intel", AuthenticAMD: "amd" };

/**
 * Reads vendor, model and microcode from /proc/cpuinfo. Every CPU must report the same microcode:
 * a mixed set means a late load reached only some CPUs, so the revision is not known.
 */
export function parseCpuInfo(text: string, problems: string[]): CpuInfo {
  const firstBlock = text.split(/\n\s*\n/, 1)[0] ?? "";
  const field = (block: string, name: string): string | undefined =>
    new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(block)?.[1]?.trim();

  const vendorId = field(firstBlock, "vendor_id");
  const vendor = vendorId === undefined ? undefined : CPU_VENDORS[vendorId];
  if (vendor === undefined)
    problems.push(`/proc/cpuinfo vendor_id ${JSON.stringify(vendorId ?? "")} unknown`);

  const modelRead = parseLine(256)(field(firstBlock, "model name") ?? "");
  if (!modelRead.ok) problems.push(`/proc/cpuinfo model name malformed: ${modelRead.reason}`);

  const revisions = new Set([...text.matchAll(/^microcode\s*:\s*(\S*)\s*$/gm)].map((m) => m[1] ?? ""));
  let microcode: string = UNKNOWN;
  if (revisions.size === 0) problems.push("/proc/cpuinfo has no microcode revision");
  else if (revisions.size > 1)
    problems.push(`/proc/cpuinfo microcode differs between CPUs: ${[...revisions].sort().join(", ")}`);
  else {
    const [revision = ""] = revisions;
    if (/^0x[0-9a-fA-F]{1,16}$/.test(revision)) microcode = revision.toLowerCase();
    else problems.push(`/proc/cpuinfo microcode ${JSON.stringify(revision.slice(0, 32))} malformed`);
  }
  return { vendor: vendor ?? UNKNOWN, model: modelRead.ok ? modelRead.value : UNKNOWN, microcode };
}

const line256 = parseLine(256);
const dateOrVersion = (text: string): ParseResult<string> => parseLine(64)(text);

export const platformSource: Source<PlatformFacts> = {
  name: "platform",
  async scan({ host }): Promise<SourceOutput<PlatformFacts>> {
    const problems: string[] = [];
    const [dmi, sysVendor, cpuinfo, release, cmdline] = await Promise.all([
      Promise.all(
        DMI_FIELDS.map(([field, file]) =>
          host.readValue(`${DMI_DIR}/${file}`, field === "biosDate" ? dateOrVersion : line256),
        ),
      ),
      host.readValue(`${DMI_DIR}/sys_vendor`, line256),
      host.readText("/proc/cpuinfo", 16 * 1024 * 1024),
      host.readValue("/proc/sys/kernel/osrelease", line256),
      readCmdline(host),
    ]);
    const text = valueOf(cpuinfo, problems);
    const cpu: CpuInfo =
      text === undefined
        ? { vendor: UNKNOWN, model: UNKNOWN, microcode: UNKNOWN }
        : parseCpuInfo(text, problems);
    const platform: Required<ConfidentialHostStatusPlatform> = {
      ...UNKNOWN_PLATFORM,
      cpuVendor: cpu.vendor,
      cpuModel: cpu.model,
      microcode: cpu.microcode,
      kernelRelease: valueOf(release, problems) ?? UNKNOWN,
    };
    DMI_FIELDS.forEach(([field], index) => {
      const read = dmi[index];
      if (read !== undefined) platform[field] = valueOf(read, problems) ?? UNKNOWN;
    });
    // DMI sys_vendor has no status field of its own; it goes to the details.
    const details: Record<string, string> = { systemVendor: valueOf(sysVendor, problems) ?? UNKNOWN };
    const words = valueOf(cmdline, problems);
    if (words !== undefined && relevantCmdline(words) !== "")
      details["kernelCmdline"] = relevantCmdline(words);
    return { facts: { platform }, details, problems };
  },
};
