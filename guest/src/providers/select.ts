/**
 * The providers the flags ask for. Real ones by default; the simulated TEE and GPUs only with
 * `--tee-provider simulated` / `--gpu-provider simulated` and a simulated PKI (`--sim-pki`). The simulated TEE
 * produces TDX or SNP evidence as the CVM's `spec.tee` says (the hardware hints carry it). `nvml+nscq` adds the
 * NVSwitches (PPCIe) through NSCQ; `nvml` does the same on its own when NVSwitch device nodes are present.
 */
import type { EvidenceProviders } from "../evidence.ts";
import { ConfigfsTsmProvider } from "./configfs-tsm.ts";
import { GpusAndSwitches, nvswitchesPresent } from "./nscq/gpus-and-switches.ts";
import { NscqSwitches } from "./nscq/nscq-switches.ts";
import { NvmlGpus } from "./nvml/nvml-gpus.ts";
import type { GpuEvidenceProvider, TeeEvidenceProvider } from "./types.ts";

export const TEE_PROVIDERS = ["configfs-tsm", "simulated"] as const;
export const GPU_PROVIDERS = ["nvml", "nvml+nscq", "simulated", "none"] as const;
export type TeeProviderName = (typeof TEE_PROVIDERS)[number];
export type GpuProviderName = (typeof GPU_PROVIDERS)[number];

export interface ProviderChoice {
  tee: TeeProviderName;
  gpu: GpuProviderName;
  tsmRoot: string;
  /** The simulated PKI directory; required when either provider is simulated. */
  simPki?: string;
  /** The simulated GPU driver's state file (CC settings, ready state); in memory without it. */
  simGpuState?: string;
  /** Where the NVSwitch device nodes are looked for (`nvml` switches to `nvml+nscq` when there are any). */
  devRoot?: string;
}

async function simulatedDevices(
  dir: string,
  gpuState: string | undefined,
): Promise<{
  tee: () => TeeEvidenceProvider;
  gpus: () => GpuEvidenceProvider;
}> {
  const simulated = await import("../../../operator/src/attestation/simulated/index.ts");
  const { SimulatedGpuDriver, SimulatedGpuProvider } = await import("./simulated-gpu-driver.ts");
  const pki = await simulated.loadSimPki(dir);
  return {
    tee: () => new simulated.SimulatedTee(pki),
    gpus: () => new SimulatedGpuProvider(pki, new SimulatedGpuDriver(gpuState)),
  };
}

export async function createProviders(choice: ProviderChoice): Promise<EvidenceProviders> {
  const simulated = choice.tee === "simulated" || choice.gpu === "simulated";
  if (simulated && choice.simPki === undefined) throw new Error("simulated providers need --sim-pki <dir>");
  const sim =
    simulated && choice.simPki !== undefined
      ? await simulatedDevices(choice.simPki, choice.simGpuState)
      : undefined;
  const tee =
    choice.tee === "simulated" && sim !== undefined
      ? sim.tee()
      : new ConfigfsTsmProvider({ root: choice.tsmRoot });
  if (choice.gpu === "none") return { tee };
  if (choice.gpu === "simulated" && sim !== undefined) return { tee, gpus: sim.gpus() };
  const { loadKoffiNvml } = await import("./nvml/koffi-nvml.ts");
  const gpus = new NvmlGpus(() => loadKoffiNvml());
  if (choice.gpu === "nvml" && !(await nvswitchesPresent(choice.devRoot))) return { tee, gpus };
  const { loadKoffiNscq } = await import("./nscq/koffi-nscq.ts");
  return { tee, gpus: new GpusAndSwitches(gpus, new NscqSwitches(() => loadKoffiNscq())) };
}
