/**
 * The providers the flags ask for. Real ones by default; the simulated TEE and GPUs only with
 * `--tee-provider simulated` / `--gpu-provider simulated` and a simulated PKI (`--sim-pki`). The simulated TEE
 * produces TDX or SNP evidence as the CVM's `spec.tee` says (the hardware hints carry it).
 */
import type { EvidenceProviders } from "../evidence.ts";
import { ConfigfsTsmProvider } from "./configfs-tsm.ts";
import { NvmlGpus } from "./nvml/nvml-gpus.ts";
import type { GpuEvidenceProvider, TeeEvidenceProvider } from "./types.ts";

export const TEE_PROVIDERS = ["configfs-tsm", "simulated"] as const;
export const GPU_PROVIDERS = ["nvml", "simulated", "none"] as const;
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
  return { tee, gpus: new NvmlGpus(() => loadKoffiNvml()) };
}
