/**
 * What a ConfidentialVM's `spec.gpus` asks for, and whether a placement gives exactly that. Two shapes, as NVIDIA
 * supports them on an HGX board: `cc`, a number of GPUs in CC mode (one CVM per GPU), or `ppcie`, one host's whole
 * protected-PCIe board (every GPU and every NVSwitch) for one CVM.
 */
import type { ConfidentialVM } from "../api/v1alpha1/generated/types.ts";

export type GpuMode = "cc" | "ppcie";

/** The HGX 8-GPU board, the only board NVIDIA supports in PPCIe mode: 8 Hopper GPUs and 4 LS10 NVSwitches. */
export const PPCIE_BOARD = { gpus: 8, nvswitches: 4 } as const;

export interface PlacedDevices {
  gpus: readonly { pciAddress?: string; model: string }[];
  nvswitches?: readonly { pciAddress: string }[];
}

export function gpuModeOf(cvm: ConfidentialVM): GpuMode {
  return cvm.spec.gpus?.mode ?? "cc";
}

/** Why `placement` does not give the CVM what `spec.gpus` asks for; undefined when it does. */
export function placementMismatch(cvm: ConfidentialVM, placement: PlacedDevices): string | undefined {
  const count = cvm.spec.gpus?.count ?? 0;
  const model = cvm.spec.gpus?.model;
  const gpus = placement.gpus.length;
  const switches = placement.nvswitches?.length ?? 0;
  const wrong = placement.gpus.findIndex((gpu) => model !== undefined && gpu.model !== model);
  const wrongModel = placement.gpus[wrong];
  if (wrongModel !== undefined)
    return `placed GPU ${wrongModel.pciAddress ?? `#${String(wrong)}`} is ${wrongModel.model}, spec.gpus.model is ${model ?? ""}`;
  if (gpuModeOf(cvm) === "cc") {
    if (gpus !== count) return `placement has ${gpus} GPUs, spec.gpus.count is ${count}`;
    if (switches > 0) return `placement has ${switches} NVSwitches, a CC-mode CVM gets none`;
    return undefined;
  }
  if (gpus !== PPCIE_BOARD.gpus || switches !== PPCIE_BOARD.nvswitches || (count !== 0 && count !== gpus)) {
    return (
      `placement has ${gpus} GPUs and ${switches} NVSwitches, a PPCIe board is ${PPCIE_BOARD.gpus} and ` +
      `${PPCIE_BOARD.nvswitches}${count === 0 ? "" : ` (spec.gpus.count ${count})`}`
    );
  }
  return undefined;
}
