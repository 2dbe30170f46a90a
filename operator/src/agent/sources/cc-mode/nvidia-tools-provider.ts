import { describeFailure, type HostRoot } from "../../host-root.ts";
import type { CommandRunner } from "./command-runner.ts";
import { gpuModeFrom, parseToolOutput, systemModeFrom, type ToolFindings } from "./nvidia-tool-output.ts";
import type { CcModeAnswer, CcModeProvider, CcModeReport, GpuRef, KnownCcMode } from "./provider.ts";

/** Host directory where admins or an init container save the tools' output (one file per GPU or run). */
export const NVIDIA_TOOLS_OUTPUT_DIR = "/etc/trustgate/nvidia-tools";

const MAX_FILES = 64;
const MAX_FILE_BYTES = 1024 * 1024;

export interface NvidiaToolsOptions {
  outputDir?: string;
  /** Runs `<command> --gpu-bdf=<bdf> --query-cc-mode` for GPUs not driven by the NVIDIA driver. */
  gpuToolsCommand?: readonly string[];
  /** Runs `<command> conf-compute -f` and `-d` when GPUs are driven by the NVIDIA driver. */
  nvidiaSmiCommand?: readonly string[];
  runner?: CommandRunner;
  timeoutMs?: number;
}

type Verdicts = Map<string, { modes: Set<KnownCcMode>; source: string }>;

function addVerdict(verdicts: Verdicts, bdf: string, mode: KnownCcMode, source: string): void {
  const existing = verdicts.get(bdf);
  if (existing === undefined) verdicts.set(bdf, { modes: new Set([mode]), source });
  else existing.modes.add(mode);
}

function collect(findings: ToolFindings, gpus: readonly GpuRef[], verdicts: Verdicts, source: string): void {
  for (const [bdf, lines] of findings.perGpu) {
    const mode = gpuModeFrom(lines);
    if (mode !== undefined) addVerdict(verdicts, bdf, mode, source);
  }
  const system = systemModeFrom(findings);
  if (system !== undefined)
    for (const gpu of gpus) if (gpu.driver === "nvidia") addVerdict(verdicts, gpu.pciAddress, system, source);
}

/** CC modes from NVIDIA's admin tools: their saved output, and the tools themselves when configured. */
export class NvidiaToolsProvider implements CcModeProvider {
  readonly name = "nvidia-tools";
  readonly #options: NvidiaToolsOptions;

  constructor(options: NvidiaToolsOptions = {}) {
    this.#options = options;
  }

  async query(gpus: readonly GpuRef[], host: HostRoot): Promise<CcModeReport> {
    const problems: string[] = [];
    const live: Verdicts = new Map();
    const saved: Verdicts = new Map();
    await this.#runTools(gpus, live, problems);
    await this.#readSaved(host, gpus, saved, problems);

    const answers = new Map<string, CcModeAnswer>();
    for (const { pciAddress } of gpus) {
      // What the tools say now beats what was saved earlier; disagreeing evidence answers nothing.
      const verdict = live.get(pciAddress) ?? saved.get(pciAddress);
      if (verdict === undefined) continue;
      const [mode] = verdict.modes;
      if (verdict.modes.size === 1 && mode !== undefined)
        answers.set(pciAddress, { mode, source: verdict.source });
      else
        problems.push(
          `GPU ${pciAddress} CC mode: NVIDIA tool outputs disagree (${[...verdict.modes].sort().join(", ")})`,
        );
    }
    return { answers, problems };
  }

  async #readSaved(
    host: HostRoot,
    gpus: readonly GpuRef[],
    verdicts: Verdicts,
    problems: string[],
  ): Promise<void> {
    const dir = this.#options.outputDir ?? NVIDIA_TOOLS_OUTPUT_DIR;
    const listing = await host.list(dir);
    if (listing.kind === "missing") return;
    if (listing.kind !== "value") {
      problems.push(describeFailure(listing));
      return;
    }
    const names = listing.value.filter((name) => !name.startsWith("."));
    if (names.length > MAX_FILES)
      problems.push(`${dir} has more than ${MAX_FILES} files; read the first ${MAX_FILES}`);
    for (const name of names.slice(0, MAX_FILES)) {
      const read = await host.readText(`${dir}/${name}`, MAX_FILE_BYTES);
      if (read.kind !== "value") {
        problems.push(describeFailure(read));
        continue;
      }
      collect(parseToolOutput(read.value), gpus, verdicts, "nvidia-tools-output");
    }
  }

  async #runTools(gpus: readonly GpuRef[], verdicts: Verdicts, problems: string[]): Promise<void> {
    const { gpuToolsCommand, nvidiaSmiCommand, runner } = this.#options;
    if (runner === undefined) return;
    const timeoutMs = this.#options.timeoutMs ?? 30_000;
    if (gpuToolsCommand !== undefined && gpuToolsCommand.length > 0) {
      // One GPU at a time: the tool touches the device's registers.
      for (const gpu of gpus.filter((g) => g.driver !== "nvidia")) {
        const result = await runner(
          [...gpuToolsCommand, `--gpu-bdf=${gpu.pciAddress}`, "--query-cc-mode"],
          timeoutMs,
        );
        if (result.error !== undefined)
          problems.push(`nvidia_gpu_tools for GPU ${gpu.pciAddress} failed: ${result.error}`);
        const findings = parseToolOutput(`${result.stdout}\n${result.stderr}`);
        findings.perGpu = new Map([...findings.perGpu].filter(([bdf]) => bdf === gpu.pciAddress));
        collect(findings, [], verdicts, "nvidia_gpu_tools");
      }
    }
    if (
      nvidiaSmiCommand !== undefined &&
      nvidiaSmiCommand.length > 0 &&
      gpus.some((g) => g.driver === "nvidia")
    ) {
      const outputs: string[] = [];
      for (const flag of ["-f", "-d"]) {
        const result = await runner([...nvidiaSmiCommand, "conf-compute", flag], timeoutMs);
        if (result.error !== undefined)
          problems.push(`nvidia-smi conf-compute ${flag} failed: ${result.error}`);
        else outputs.push(result.stdout);
      }
      collect(parseToolOutput(outputs.join("\n")), gpus, verdicts, "nvidia-smi");
    }
  }
}
