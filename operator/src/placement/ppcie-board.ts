/**
 * A protected-PCIe (PPCIe) board is one unit: every GPU and every NVSwitch of the host goes to one ConfidentialVM,
 * and a host whose GPUs are in PPCIe mode serves no other CVM (NVIDIA supports no partial PPCIe board, nor CC-mode
 * and PPCIe-mode GPUs side by side). Pure decisions for the scheduler.
 */
import type { ConfidentialHost, ConfidentialHostStatusGpu } from "../api/v1alpha1/generated/types.ts";
import { hostBoardMode, hostNvSwitches, type HostNvSwitch } from "./host-board.ts";
import { PPCIE_BOARD } from "./gpu-request.ts";

export interface BoardOwnership {
  /** The CVM being placed, `ns/name`. */
  cvmKey: string;
  /** The CVM holding a device of this host by PCI address, if any. */
  ownerOf: (pciAddress: string) => string | undefined;
  /** The CVM holding this host's PPCIe board, if any. */
  boardHolder: string | undefined;
}

export interface BoardOffer {
  gpus: ConfidentialHostStatusGpu[];
  nvswitches: HostNvSwitch[];
  /** Every reason the board cannot be given; empty when it can. */
  reasons: string[];
}

const VFIO = "vfio-pci";

function byAddress<T extends { pciAddress: string }>(devices: readonly T[]): T[] {
  return [...devices].sort((a, b) =>
    a.pciAddress < b.pciAddress ? -1 : a.pciAddress > b.pciAddress ? 1 : 0,
  );
}

function heldElsewhere(ownership: BoardOwnership, addresses: readonly string[]): string[] {
  const { cvmKey, ownerOf, boardHolder } = ownership;
  if (boardHolder !== undefined && boardHolder !== cvmKey) return [`PPCIe board held by ${boardHolder}`];
  const owners = new Set(addresses.map(ownerOf).filter((o) => o !== undefined && o !== cvmKey));
  return [...owners].sort().map((owner) => `devices held by ${owner}`);
}

/**
 * Whether `host` can give its whole PPCIe board to the CVM: GPUs in PPCIe mode (all of them), the HGX shape of
 * 8 GPUs and 4 NVSwitches, every device on vfio-pci, the GPUs of the requested model, nothing held by another CVM.
 */
export function ppcieBoardOffer(
  host: ConfidentialHost,
  model: string | undefined,
  ownership: BoardOwnership,
): BoardOffer {
  const gpus = byAddress(host.status?.gpus ?? []);
  const nvswitches = byAddress(hostNvSwitches(host));
  const reasons: string[] = [];
  const mode = hostBoardMode(host);
  if (mode !== "ppcie")
    reasons.push(
      `GPUs ${mode === "mixed" ? "in mixed CC and PPCIe modes" : "not in PPCIe mode"}, want a PPCIe board`,
    );
  if (gpus.length !== PPCIE_BOARD.gpus || nvswitches.length !== PPCIE_BOARD.nvswitches) {
    reasons.push(
      `${gpus.length} GPUs and ${nvswitches.length} NVSwitches, a PPCIe board is ${PPCIE_BOARD.gpus} and ${PPCIE_BOARD.nvswitches}`,
    );
  }
  for (const gpu of gpus) {
    if (gpu.driver !== VFIO)
      reasons.push(`GPU ${gpu.pciAddress} on ${gpu.driver ?? "no driver"}, not ${VFIO}`);
    if (model !== undefined && gpu.model !== model)
      reasons.push(`GPU ${gpu.pciAddress} is ${gpu.model ?? "unknown"}, want ${model}`);
  }
  for (const nvswitch of nvswitches) {
    if (nvswitch.driver !== VFIO)
      reasons.push(`NVSwitch ${nvswitch.pciAddress} on ${nvswitch.driver ?? "no driver"}, not ${VFIO}`);
    if (nvswitch.ppcieMode !== "on")
      reasons.push(`NVSwitch ${nvswitch.pciAddress} PPCIe mode ${nvswitch.ppcieMode ?? "unknown"}, want on`);
  }
  reasons.push(
    ...heldElsewhere(
      ownership,
      [...gpus, ...nvswitches].map((d) => d.pciAddress),
    ),
  );
  return { gpus, nvswitches, reasons };
}

/**
 * Why a CC-mode CVM (GPUs or not) may not go to `host`: a host in PPCIe mode, or with a PPCIe board held, serves
 * only its board's CVM.
 */
export function ppcieHostRefusals(host: ConfidentialHost, ownership: BoardOwnership): string[] {
  const reasons: string[] = [];
  const mode = hostBoardMode(host);
  if (mode === "ppcie")
    reasons.push(
      "GPUs in PPCIe mode: only a whole-board ConfidentialVM (spec.gpus.mode ppcie) may use this host",
    );
  if (mode === "mixed") reasons.push("GPUs in mixed CC and PPCIe modes");
  if (ownership.boardHolder !== undefined && ownership.boardHolder !== ownership.cvmKey)
    reasons.push(`PPCIe board held by ${ownership.boardHolder}`);
  return reasons;
}
