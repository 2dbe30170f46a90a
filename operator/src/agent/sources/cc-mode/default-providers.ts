import { execCommand, type CommandRunner } from "./command-runner.ts";
import { NvidiaToolsProvider } from "./nvidia-tools-provider.ts";
import type { CcModeProvider } from "./provider.ts";
import { StateFileProvider } from "./state-file-provider.ts";

export interface CcModeInputs {
  /** Host paths (under the host root). */
  ccModeStateFile: string;
  nvidiaToolsOutputDir: string;
  /** Commands (in the agent's container) to run; unset means only saved outputs are read. */
  nvidiaGpuToolsCommand?: string[];
  nvidiaSmiCommand?: string[];
  toolTimeoutMs: number;
}

/** Most direct evidence first: NVIDIA tools (live, then saved output), then the state file. */
export function ccModeProviders(inputs: CcModeInputs, runner: CommandRunner = execCommand): CcModeProvider[] {
  return [
    new NvidiaToolsProvider({
      outputDir: inputs.nvidiaToolsOutputDir,
      ...(inputs.nvidiaGpuToolsCommand === undefined
        ? {}
        : { gpuToolsCommand: inputs.nvidiaGpuToolsCommand }),
      ...(inputs.nvidiaSmiCommand === undefined ? {} : { nvidiaSmiCommand: inputs.nvidiaSmiCommand }),
      runner,
      timeoutMs: inputs.toolTimeoutMs,
    }),
    new StateFileProvider(inputs.ccModeStateFile),
  ];
}
