import type {
  ConfidentialHostStatusGpu,
  ConfidentialHostStatusGpuSummary,
  ConfidentialHostStatusNvswitch,
} from "../api/v1alpha1/generated/types.ts";

/**
 * A host's GPU mode. NVIDIA supports two configurations of an HGX board for confidential computing:
 * every GPU in CC mode `on` (one or more GPUs per CVM, NVSwitches unused), or every GPU and every
 * NVSwitch in protected PCIe mode (`ppcie`, the whole board given to one CVM). Anything in between is
 * `mixed`; a GPU whose mode is unknown makes the host `unknown`.
 */
export type HostGpuMode = NonNullable<ConfidentialHostStatusGpuSummary["mode"]>;

const VFIO = "vfio-pci";

export interface HostGpuModeDecision {
  mode: HostGpuMode;
  /** Why the host's GPUs cannot be used as reported, each naming the devices; empty when usable. */
  problems: string[];
}

function list(items: readonly { pciAddress: string }[]): string {
  return items.map((i) => i.pciAddress).join(", ");
}

/** What keeps one device (GPU, or NVSwitch of a PPCIe board) from being given to a VM. */
export function passthroughProblems(
  what: string,
  device: Pick<
    ConfidentialHostStatusGpu,
    "pciAddress" | "driver" | "iommuGroup" | "iommuGroupViable" | "iommuGroupBlockers"
  >,
): string[] {
  const name = `${what} ${device.pciAddress}`;
  const problems: string[] = [];
  if (device.driver !== VFIO) problems.push(`${name} bound to ${device.driver ?? "no driver"}, not ${VFIO}`);
  if (device.iommuGroup === undefined) problems.push(`${name} has no IOMMU group`);
  else if (device.iommuGroupViable === false)
    problems.push(
      `${name} IOMMU group ${device.iommuGroup} not viable: ${(device.iommuGroupBlockers ?? []).join(", ")} not on ${VFIO}`,
    );
  else if (device.iommuGroupViable !== true)
    problems.push(`${name} IOMMU group ${device.iommuGroup} viability not reported`);
  return problems;
}

/** The host's GPU mode from its GPUs and NVSwitches, and what makes it unusable (pure). */
export function decideHostGpuMode(
  gpus: readonly ConfidentialHostStatusGpu[],
  nvswitches: readonly ConfidentialHostStatusNvswitch[],
): HostGpuModeDecision {
  if (gpus.length === 0) return { mode: "none", problems: [] };
  const problems: string[] = [];
  const unknown = gpus.filter((g) => g.ccMode === "unknown");
  const on = gpus.filter((g) => g.ccMode === "on");
  const ppcie = gpus.filter((g) => g.ccMode === "ppcie");
  for (const gpu of gpus)
    if (gpu.ccMode !== "on" && gpu.ccMode !== "ppcie")
      problems.push(`GPU ${gpu.pciAddress} CC mode ${gpu.ccMode}`);
  if (on.length > 0 && ppcie.length > 0)
    problems.push(`mixed modes: GPUs ${list(on)} in CC mode on, GPUs ${list(ppcie)} in protected PCIe mode`);

  if (ppcie.length === gpus.length) {
    const notPpcie = nvswitches.filter((s) => s.ppcieMode !== "on");
    if (nvswitches.length === 0) problems.push("GPUs in protected PCIe mode but no NVSwitch found");
    if (notPpcie.length > 0)
      problems.push(
        `GPUs in protected PCIe mode but NVSwitches ${notPpcie.map((s) => `${s.pciAddress} (${s.ppcieMode})`).join(", ")} not`,
      );
    for (const sw of nvswitches) problems.push(...passthroughProblems("NVSwitch", sw));
    return { mode: notPpcie.length > 0 ? "mixed" : "ppcie", problems };
  }
  if (on.length === gpus.length) {
    const switchesPpcie = nvswitches.filter((s) => s.ppcieMode === "on");
    if (switchesPpcie.length > 0)
      problems.push(`GPUs in CC mode on but NVSwitches ${list(switchesPpcie)} in protected PCIe mode`);
    return { mode: switchesPpcie.length > 0 ? "mixed" : "on", problems };
  }
  if (unknown.length > 0) return { mode: "unknown", problems };
  const modes = new Set(gpus.map((g) => g.ccMode));
  const [only] = modes;
  return { mode: modes.size === 1 && only !== undefined ? only : "mixed", problems };
}

/** GPUs usable in the host's mode (on, or ppcie for a PPCIe board) and on vfio-pci. */
export function usableGpuCount(gpus: readonly ConfidentialHostStatusGpu[], mode: HostGpuMode): number {
  const wanted = mode === "ppcie" ? "ppcie" : "on";
  return gpus.filter((g) => g.ccMode === wanted && g.driver === VFIO).length;
}
