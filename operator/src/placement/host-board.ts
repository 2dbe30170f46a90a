/**
 * What a ConfidentialHost says about its GPU board, read in this one place: whether its GPUs are in protected-PCIe
 * (PPCIe) mode and which NVSwitches it has. Like everything in a host's report these are host-asserted facts, a
 * scheduling signal only; the guest's SPDM evidence of each GPU and NVSwitch is the authority.
 *
 * ASSUMED host field (added by the host-validation work of issue 13, not in the ConfidentialHost CRD on this branch):
 * `status.nvswitches[]` with `pciAddress`, `vendorId`, `deviceId`, `driver`, `iommuGroup` and `ppcieMode`
 * (`on`/`off`/`unknown`), as that work drafts it. The GPU mode needs no new field: it is derived from
 * `status.gpus[].ccMode`, which already allows `ppcie` (a host-level `status.gpuSummary.mode` is for display). When
 * the real field lands, only `hostNvSwitches` changes (to read the generated type).
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
  const status = host.status as { nvswitches?: unknown } | undefined;
  const listed = status?.nvswitches;
  if (!Array.isArray(listed)) return [];
  return listed.filter(
    (s): s is HostNvSwitch =>
      typeof s === "object" && s !== null && typeof (s as { pciAddress?: unknown }).pciAddress === "string",
  );
}

export function hostBoardMode(host: ConfidentialHost): HostBoardMode {
  const gpus = host.status?.gpus ?? [];
  const ppcie = gpus.filter((gpu) => gpu.ccMode === "ppcie").length;
  if (ppcie === 0) return "cc";
  return ppcie === gpus.length ? "ppcie" : "mixed";
}
