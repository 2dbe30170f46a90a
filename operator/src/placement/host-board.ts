/**
 * What a ConfidentialHost says about its GPU board, read in this one place: whether its GPUs are in protected-PCIe
 * (PPCIe) mode and which NVSwitches it has. Like everything in a host's report these are host-asserted facts, a
 * scheduling signal only; the guest's SPDM evidence of each GPU and NVSwitch is the authority.
 *
 * The switches are the agent's signed `status.nvswitches[]`; the GPU mode is derived from `status.gpus[].ccMode` (a
 * host-level `status.gpuSummary.mode` is for display).
 */
import type { ConfidentialHost } from "../api/v1alpha1/generated/types.ts";

export interface HostNvSwitch {
  pciAddress: string;
  deviceId?: string;
  /** Bound kernel driver; a PPCIe board's switches are passed through, so vfio-pci. */
  driver?: string;
  /** The switch's protected-PCIe mode: `on` on a PPCIe board. */
  ppcieMode?: string;
}

/** `cc`: no GPU in PPCIe mode; `ppcie`: every GPU in PPCIe mode; `mixed`: some (NVIDIA supports no such board). */
export type HostBoardMode = "cc" | "ppcie" | "mixed";

/** The NVSwitches the host reports (none when it reports no list). */
export function hostNvSwitches(host: ConfidentialHost): HostNvSwitch[] {
  return host.status?.nvswitches ?? [];
}

export function hostBoardMode(host: ConfidentialHost): HostBoardMode {
  const gpus = host.status?.gpus ?? [];
  const ppcie = gpus.filter((gpu) => gpu.ccMode === "ppcie").length;
  if (ppcie === 0) return "cc";
  return ppcie === gpus.length ? "ppcie" : "mixed";
}
