/**
 * The simulated GPUs' driver (tests and demos only): the CC settings NVML would report and the CC ready switch,
 * behaving as the real driver does (a reset to not ready after ready is final until the driver reloads). The state
 * lives in memory, or in a JSON file (`--sim-gpu-state`) that a test can seed (e.g. devtools mode) and read (the ready
 * state the guest set). The evidence comes from SimulatedGpus, in devtools mode when the state says so, followed for a
 * PPCIe board CVM by its NVSwitches' (SimulatedNvSwitches), each switch signing the board's GPU PDIs.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { SimulatedGpus } from "../../../operator/src/attestation/simulated/simulated-gpus.ts";
import { SimulatedNvSwitches } from "../../../operator/src/attestation/simulated/simulated-nvswitches.ts";
import { SIMULATED_GPU_SYSTEM } from "../../../operator/src/attestation/simulated/simulated-gpus.ts";
import type { SimPki } from "../../../operator/src/attestation/simulated/sim-pki.ts";
import type {
  GpuEvidence,
  GpuEvidenceProvider,
  GpuReadySwitch,
  GpuSystemState,
  HardwareHints,
} from "./types.ts";

export interface SimulatedDriverState extends Omit<GpuSystemState, "readyState"> {
  readyState: "ready" | "not-ready";
  /** Set when READY was reset: the driver refuses READY until it reloads. */
  resetFinal: boolean;
}

const INITIAL: SimulatedDriverState = {
  ccFeature: SIMULATED_GPU_SYSTEM.ccFeature,
  devToolsMode: SIMULATED_GPU_SYSTEM.devToolsMode,
  environment: SIMULATED_GPU_SYSTEM.environment,
  multiGpuMode: SIMULATED_GPU_SYSTEM.multiGpuMode,
  readyState: "not-ready",
  resetFinal: false,
};

const ALLOWED: Record<keyof Omit<SimulatedDriverState, "resetFinal">, readonly string[]> = {
  ccFeature: ["on", "off"],
  devToolsMode: ["on", "off"],
  environment: ["prod", "sim", "unavailable"],
  multiGpuMode: ["none", "ppcie", "nvle"],
  readyState: ["ready", "not-ready"],
};

function parseState(text: string, file: string): SimulatedDriverState {
  const value = JSON.parse(text) as Record<string, unknown>;
  const state = { ...INITIAL, ...value };
  for (const [field, allowed] of Object.entries(ALLOWED)) {
    const given = (state as Record<string, unknown>)[field];
    if (typeof given !== "string" || !allowed.includes(given))
      throw new Error(`${file}: ${field} must be one of ${allowed.join(", ")}, not ${JSON.stringify(given)}`);
  }
  if (typeof state.resetFinal !== "boolean") throw new Error(`${file}: resetFinal must be a boolean`);
  return state;
}

export class SimulatedGpuDriver implements GpuReadySwitch {
  readonly #file: string | undefined;
  #memory: SimulatedDriverState = { ...INITIAL };

  constructor(file?: string) {
    this.#file = file;
  }

  async state(): Promise<SimulatedDriverState> {
    if (this.#file === undefined) return { ...this.#memory };
    let text: string;
    try {
      text = await readFile(this.#file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { ...INITIAL };
      throw error;
    }
    return parseState(text, this.#file);
  }

  async get(): Promise<boolean> {
    return (await this.state()).readyState === "ready";
  }

  async set(ready: boolean): Promise<void> {
    const state = await this.state();
    if (state.resetFinal)
      throw new Error(
        "simulated driver: the GPUs' ready state was reset; it cannot be set until the driver reloads",
      );
    const resetFinal = state.readyState === "ready" && !ready;
    await this.#write({ ...state, readyState: ready ? "ready" : "not-ready", resetFinal });
  }

  async #write(state: SimulatedDriverState): Promise<void> {
    if (this.#file === undefined) {
      this.#memory = state;
      return;
    }
    const temp = `${this.#file}.tmp`;
    await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
    await rename(temp, this.#file);
  }
}

/** SimulatedGpus' (and a board's SimulatedNvSwitches') evidence with the driver's CC state and ready switch. */
export class SimulatedGpuProvider implements GpuEvidenceProvider {
  readonly name = "simulated-nvidia";
  readonly readySwitch: SimulatedGpuDriver;
  readonly #pki: SimPki;
  readonly #gpus = new Map<boolean, SimulatedGpus>();
  #switches: SimulatedNvSwitches | undefined;

  constructor(pki: SimPki, driver: SimulatedGpuDriver) {
    this.#pki = pki;
    this.readySwitch = driver;
  }

  async collect(gpuNonce: Uint8Array, hardware: HardwareHints): Promise<GpuEvidence[]> {
    const devToolsMode = (await this.readySwitch.state()).devToolsMode === "on";
    let gpus = this.#gpus.get(devToolsMode);
    if (gpus === undefined) {
      gpus = new SimulatedGpus(this.#pki, { devToolsMode });
      this.#gpus.set(devToolsMode, gpus);
    }
    const evidence = await gpus.collect(gpuNonce, hardware);
    const nvswitches = hardware.nvswitches ?? [];
    if (nvswitches.length === 0) return evidence;
    this.#switches ??= new SimulatedNvSwitches(this.#pki);
    return [...evidence, ...(await this.#switches.collect(gpuNonce, nvswitches, { gpus: hardware.gpus }))];
  }

  async systemState(): Promise<GpuSystemState> {
    const { ccFeature, devToolsMode, environment, multiGpuMode, readyState } = await this.readySwitch.state();
    return { ccFeature, devToolsMode, environment, multiGpuMode, readyState };
  }
}
