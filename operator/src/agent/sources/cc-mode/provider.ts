import type {
  ConfidentialHostStatusGpu,
  ConfidentialHostStatusGpuSummary,
} from "../../../api/v1alpha1/generated/types.ts";
import type { HostRoot } from "../../host-root.ts";

export type CcMode = ConfidentialHostStatusGpu["ccMode"];
export type KnownCcMode = Exclude<CcMode, "unknown">;
export type PpcieMode = "on" | "off";

export const CC_MODES: readonly KnownCcMode[] = ["on", "off", "devtools", "ppcie"];

/** Where CC modes come from; every one is host-asserted (see the agent README's trust levels). */
export type CcModeSourceName = Exclude<NonNullable<ConfidentialHostStatusGpuSummary["ccModeSource"]>, "none">;
export type CcModeSourceSetting = CcModeSourceName | "auto";

/** The order `auto` asks in: NVIDIA's CC manager, then the privileged probe, then the manual file. */
export const AUTO_ORDER: readonly CcModeSourceName[] = ["labels", "probe-file", "file"];
export const CC_MODE_SOURCE_SETTINGS: readonly CcModeSourceSetting[] = ["auto", ...AUTO_ORDER];

/** What a provider needs to know about a device to answer for it. */
export interface DeviceRef {
  pciAddress: string;
  kind: "gpu" | "nvswitch";
  /** Bound driver (vfio-pci, nvidia, none). */
  driver: string;
}

export interface GpuAnswer {
  mode: KnownCcMode;
  vbiosVersion?: string;
}

/** A provider's answers: only for devices it has evidence about; it never guesses. */
export interface CcModeReport {
  gpus: Map<string, GpuAnswer>;
  nvswitches: Map<string, PpcieMode>;
  problems: string[];
}

export interface CcModeProvider {
  readonly name: CcModeSourceName;
  query(devices: readonly DeviceRef[], host: HostRoot): Promise<CcModeReport>;
}

export function emptyReport(problems: string[] = []): CcModeReport {
  return { gpus: new Map(), nvswitches: new Map(), problems };
}

export interface ResolvedCcModes {
  gpus: Map<string, { mode: CcMode; vbiosVersion?: string }>;
  nvswitches: Map<string, PpcieMode | "unknown">;
  /** The provider whose answers were used; `none` when none answered. */
  source: CcModeSourceName | "none";
  problems: string[];
}

function answered(report: CcModeReport): boolean {
  return report.gpus.size > 0 || report.nvswitches.size > 0;
}

/**
 * Asks every provider; the first (in the given order) that answers for any device is the source for
 * all devices. Another provider that answers differently for a device makes that device unknown:
 * in `auto` no source overrides another, so a hand-written file cannot outvote NVIDIA's labels (or
 * the other way round). Only an explicit single source (the agent's flag) makes one authoritative.
 */
export async function resolveCcModes(
  providers: readonly CcModeProvider[],
  devices: readonly DeviceRef[],
  host: HostRoot,
): Promise<ResolvedCcModes> {
  const problems: string[] = [];
  const reports: { name: CcModeSourceName; report: CcModeReport }[] = [];
  for (const provider of providers) {
    try {
      const report = await provider.query(devices, host);
      reports.push({ name: provider.name, report });
      problems.push(...report.problems);
    } catch (error) {
      problems.push(`CC mode source ${provider.name} failed: ${(error as Error).message}`);
    }
  }
  const chosen = reports.find((r) => answered(r.report));
  const others = reports.filter((r) => r !== chosen && answered(r.report));
  const gpus: ResolvedCcModes["gpus"] = new Map();
  const nvswitches: ResolvedCcModes["nvswitches"] = new Map();
  const unanswered = (what: string) =>
    chosen === undefined
      ? `${what} unknown: no CC mode source answered`
      : `${what} unknown: source ${chosen.name} has no answer for it`;

  for (const device of devices) {
    const bdf = device.pciAddress;
    if (device.kind === "gpu") {
      const answer = chosen?.report.gpus.get(bdf);
      const vbiosVersion = reports
        .map((r) => r.report.gpus.get(bdf)?.vbiosVersion)
        .find((v) => v !== undefined);
      const resolved: { mode: CcMode; vbiosVersion?: string } = { mode: answer?.mode ?? "unknown" };
      if (vbiosVersion !== undefined) resolved.vbiosVersion = vbiosVersion;
      if (answer === undefined) problems.push(unanswered(`GPU ${bdf} CC mode`));
      else {
        const disagree = others.filter((o) => {
          const mode = o.report.gpus.get(bdf)?.mode;
          return mode !== undefined && mode !== answer.mode;
        });
        if (disagree.length > 0) {
          resolved.mode = "unknown";
          problems.push(
            `GPU ${bdf} CC mode unknown: sources disagree (${[chosen, ...disagree]
              .map((r) => `${r?.name ?? ""} says ${r?.report.gpus.get(bdf)?.mode ?? ""}`)
              .join(", ")})`,
          );
        }
      }
      gpus.set(bdf, resolved);
    } else {
      const answer = chosen?.report.nvswitches.get(bdf);
      let mode: PpcieMode | "unknown" = answer ?? "unknown";
      if (answer !== undefined) {
        const disagree = others.filter((o) => {
          const other = o.report.nvswitches.get(bdf);
          return other !== undefined && other !== answer;
        });
        if (disagree.length > 0) {
          mode = "unknown";
          problems.push(
            `NVSwitch ${bdf} PPCIe mode unknown: sources disagree (${[chosen, ...disagree]
              .map((r) => `${r?.name ?? ""} says ${r?.report.nvswitches.get(bdf) ?? ""}`)
              .join(", ")})`,
          );
        }
      }
      nvswitches.set(bdf, mode);
    }
  }
  return { gpus, nvswitches, source: chosen?.name ?? "none", problems };
}
