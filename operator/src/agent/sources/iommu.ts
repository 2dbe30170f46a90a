import type { ConfidentialHostStatusIommu } from "../../api/v1alpha1/generated/types.ts";
import { describeFailure, type HostRead, type HostRoot } from "../host-root.ts";
import { cmdlineValue, readCmdline } from "./kernel-cmdline.ts";
import type { Source, SourceOutput } from "./source.ts";

const IOMMU_CLASS = "/sys/class/iommu";
const IOMMU_GROUPS = "/sys/kernel/iommu_groups";

export interface IommuFacts {
  iommu: ConfidentialHostStatusIommu;
}

/** Entries of a directory that the kernel creates empty when nothing registered: missing counts as none. */
function entries(read: HostRead<string[]>, problems: string[]): string[] | undefined {
  if (read.kind === "value") return read.value;
  if (read.kind === "missing") return [];
  problems.push(describeFailure(read));
  return undefined;
}

/** Whether a directory is there (following symlinks); a dangling symlink is malformed, not absent. */
async function directoryPresent(
  host: HostRoot,
  path: string,
  problems: string[],
): Promise<boolean | undefined> {
  const listing = await host.list(path);
  if (listing.kind === "value") return true;
  if (listing.kind === "missing") {
    const entry = await host.entryType(path);
    if (entry.kind === "value") {
      problems.push(`${path} malformed: dangling symlink`);
      return undefined;
    }
    return false;
  }
  problems.push(describeFailure(listing));
  return undefined;
}

/** vfio-pci is usable when its module is loaded or its driver is registered (built in). */
async function vfioLoaded(host: HostRoot, problems: string[]): Promise<boolean | undefined> {
  const [module, driver] = await Promise.all([
    directoryPresent(host, "/sys/module/vfio_pci", problems),
    directoryPresent(host, "/sys/bus/pci/drivers/vfio-pci", problems),
  ]);
  if (module === true || driver === true) return true;
  return module === false && driver === false ? false : undefined;
}

export const iommuSource: Source<IommuFacts> = {
  name: "iommu",
  async scan({ host }): Promise<SourceOutput<IommuFacts>> {
    const problems: string[] = [];
    const details: Record<string, string> = {};
    const [units, groupNames, vfio, cmdline] = await Promise.all([
      host.list(IOMMU_CLASS),
      host.list(IOMMU_GROUPS),
      vfioLoaded(host, problems),
      readCmdline(host),
    ]);
    const iommu: ConfidentialHostStatusIommu = {};
    const unitNames = entries(units, problems);
    const groups = entries(groupNames, problems);
    const numeric = groups?.filter((name) => /^\d+$/.test(name));
    if (groups !== undefined && numeric !== undefined && numeric.length !== groups.length)
      problems.push(`${IOMMU_GROUPS} has entries that are not group numbers`);
    if (unitNames !== undefined)
      details["iommuUnits"] = unitNames.length === 0 ? "none" : unitNames.join(",");
    if (unitNames !== undefined && numeric !== undefined) {
      iommu.enabled = unitNames.length > 0 && numeric.length > 0;
      if (unitNames.length > 0 && numeric.length === 0)
        problems.push("IOMMU units are registered but there are no IOMMU groups");
    }
    if (vfio !== undefined) iommu.vfioLoaded = vfio;
    if (numeric !== undefined) iommu.groups = numeric.length;

    if (cmdline.kind === "value") {
      const words = cmdline.value;
      const said = ["intel_iommu", "amd_iommu", "iommu"]
        .map((key) => [key, cmdlineValue(words, key)] as const)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}=${value ?? ""}`);
      if (said.length > 0) details["iommuCmdline"] = said.join(" ");
      if (iommu.enabled === true && said.some((word) => word.endsWith("=off")))
        problems.push(`IOMMU groups exist although the kernel command line says ${said.join(" ")}`);
    }
    return { facts: { iommu }, details, problems };
  },
};
