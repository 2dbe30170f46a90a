/**
 * A PPCIe CVM's GPU evidence: the GPUs through NVML followed by the NVSwitches through NSCQ, for the same nonce, in
 * one `gpus[]` list (switches labelled arch LS10). CC state and the ready switch are the GPUs' (NVML's).
 */
import { readdir } from "node:fs/promises";
import type { GpuEvidence, GpuEvidenceProvider, GpuReadySwitch, GpuSystemState } from "../types.ts";
import type { NscqSwitches } from "./nscq-switches.ts";

export class GpusAndSwitches implements GpuEvidenceProvider {
  readonly name = "nvml+nscq";
  readonly #gpus: GpuEvidenceProvider;
  readonly #switches: NscqSwitches;
  readonly readySwitch?: GpuReadySwitch;

  constructor(gpus: GpuEvidenceProvider, switches: NscqSwitches) {
    this.#gpus = gpus;
    this.#switches = switches;
    if (gpus.readySwitch !== undefined) this.readySwitch = gpus.readySwitch;
  }

  async collect(
    nonce: Uint8Array,
    hardware: Parameters<GpuEvidenceProvider["collect"]>[1],
  ): Promise<GpuEvidence[]> {
    const gpus = await this.#gpus.collect(nonce, hardware);
    const switches = await this.#switches.collect(nonce);
    return [...gpus, ...switches];
  }

  systemState(): Promise<GpuSystemState> {
    if (this.#gpus.systemState === undefined)
      throw new Error(`${this.#gpus.name} does not report the CC state`);
    return this.#gpus.systemState();
  }

  async close(): Promise<void> {
    await this.#gpus.close?.();
  }
}

/**
 * Whether the CVM was given NVSwitches: the NVSwitch driver creates /dev/nvidia-nvswitch<N> for each. The device
 * nodes are only a hint for choosing the collector; the evidence itself is what the operator verifies.
 */
export async function nvswitchesPresent(devRoot = "/dev"): Promise<boolean> {
  try {
    return (await readdir(devRoot)).some((name) => /^nvidia-nvswitch\d+$/.test(name));
  } catch {
    return false;
  }
}
