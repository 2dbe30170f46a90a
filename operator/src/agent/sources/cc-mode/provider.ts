import type { ConfidentialHostStatusGpu } from "../../../api/v1alpha1/generated/types.ts";
import type { HostRoot } from "../../host-root.ts";

export type CcMode = ConfidentialHostStatusGpu["ccMode"];
export type KnownCcMode = Exclude<CcMode, "unknown">;

export const CC_MODES: readonly KnownCcMode[] = ["on", "off", "devtools", "ppcie"];

/** What a provider needs to know about a GPU to answer for it. */
export interface GpuRef {
  pciAddress: string;
  deviceId: string;
  /** Bound driver (vfio-pci, nvidia, none). */
  driver: string;
}

export interface CcModeAnswer {
  mode: KnownCcMode;
  /** Which provider (and input) answered, for details and logs. */
  source: string;
  vbiosVersion?: string;
}

export interface CcModeReport {
  answers: Map<string, CcModeAnswer>;
  problems: string[];
}

/**
 * One way to learn GPUs' CC modes. A provider answers only for GPUs it has evidence about and
 * leaves the rest out; it never guesses.
 */
export interface CcModeProvider {
  readonly name: string;
  query(gpus: readonly GpuRef[], host: HostRoot): Promise<CcModeReport>;
}

export interface ResolvedCcMode {
  mode: CcMode;
  source?: string;
  vbiosVersion?: string;
}

/** Asks the providers in order; a GPU's mode is the first answer, `unknown` when none answered. */
export async function resolveCcModes(
  providers: readonly CcModeProvider[],
  gpus: readonly GpuRef[],
  host: HostRoot,
): Promise<{ modes: Map<string, ResolvedCcMode>; problems: string[] }> {
  const problems: string[] = [];
  const reports: CcModeReport[] = [];
  for (const provider of providers) {
    try {
      const report = await provider.query(gpus, host);
      reports.push(report);
      problems.push(...report.problems);
    } catch (error) {
      problems.push(`CC mode provider ${provider.name} failed: ${(error as Error).message}`);
    }
  }
  const modes = new Map<string, ResolvedCcMode>();
  for (const gpu of gpus) {
    const answers = reports.flatMap((r) => {
      const answer = r.answers.get(gpu.pciAddress);
      return answer === undefined ? [] : [answer];
    });
    const first = answers[0];
    const vbiosVersion = answers.find((a) => a.vbiosVersion !== undefined)?.vbiosVersion;
    if (first === undefined) problems.push(`GPU ${gpu.pciAddress} CC mode unknown: no provider answered`);
    const resolved: ResolvedCcMode =
      first === undefined ? { mode: "unknown" } : { mode: first.mode, source: first.source };
    if (vbiosVersion !== undefined) resolved.vbiosVersion = vbiosVersion;
    modes.set(gpu.pciAddress, resolved);
  }
  return { modes, problems };
}
