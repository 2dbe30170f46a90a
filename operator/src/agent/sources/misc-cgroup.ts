import type { HostRead, HostRoot, ParseResult } from "../host-root.ts";

export const MISC_CAPACITY_PATH = "/sys/fs/cgroup/misc.capacity";

/**
 * cgroup v2 `misc.capacity` (root cgroup only): one `<resource> <count>` line per resource the
 * platform has (tdx = TDX private KeyIDs, sev / sev_es = SEV and SEV-ES/SNP ASIDs).
 */
export function parseMiscCapacity(text: string): ParseResult<Map<string, number>> {
  const capacities = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const match = /^([a-z_][a-z0-9_]*) (\d{1,10})$/.exec(line.trim());
    if (match === null) return { ok: false, reason: `unexpected line ${JSON.stringify(line.slice(0, 64))}` };
    capacities.set(match[1] ?? "", Number(match[2]));
  }
  return { ok: true, value: capacities };
}

export function readMiscCapacity(host: HostRoot): Promise<HostRead<Map<string, number>>> {
  return host.readValue(MISC_CAPACITY_PATH, parseMiscCapacity);
}
