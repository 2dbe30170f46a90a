import type { ConfidentialHostStatus, ConfidentialHostStatusTee } from "../api/v1alpha1/generated/types.ts";
import { VERSION } from "../version.ts";
import { decideHostGpuMode } from "../host/gpu-mode.ts";
import type { HostRoot } from "./host-root.ts";
import type { CcModeProvider } from "./sources/cc-mode/provider.ts";
import { gpusSource } from "./sources/gpus.ts";
import { iommuSource } from "./sources/iommu.ts";
import { platformSource, UNKNOWN, UNKNOWN_PLATFORM } from "./sources/platform.ts";
import { snpSource } from "./sources/snp.ts";
import { outputOf, runSources, SourceRegistry, type SourceResults } from "./sources/source.ts";
import { tdxSource } from "./sources/tdx.ts";
import type { TeeFacts } from "./sources/tee-state.ts";

/** CRD limits on status.tee.details. */
const MAX_DETAILS = 64;
const MAX_DETAIL_LENGTH = 1024;

export function defaultRegistry(): SourceRegistry {
  return new SourceRegistry()
    .register(platformSource)
    .register(tdxSource)
    .register(snpSource)
    .register(iommuSource)
    .register(gpusSource);
}

export interface ScanOptions {
  host: HostRoot;
  ccModeProviders: readonly CcModeProvider[];
  now: Date;
  registry?: SourceRegistry;
  agentVersion?: string;
}

export interface ScanResult {
  /** Unsigned: status.report is added by signing. */
  status: ConfidentialHostStatus;
  problems: string[];
  /** Names of the sources (and "tee") that reported problems, for the agent's per-check metric. */
  failingChecks: string[];
}

/** RFC 3339 in whole seconds, as Kubernetes writes times. */
export function rfc3339Seconds(now: Date): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

export async function scanHost(options: ScanOptions): Promise<ScanResult> {
  const registry = options.registry ?? defaultRegistry();
  const results = await runSources(registry, {
    host: options.host,
    ccModeProviders: options.ccModeProviders,
  });
  return assembleStatus(results, rfc3339Seconds(options.now), options.agentVersion ?? VERSION);
}

function truncate(text: string): string {
  return text.length <= MAX_DETAIL_LENGTH ? text : `${text.slice(0, MAX_DETAIL_LENGTH - 1)}…`;
}

/**
 * Which TEE the host offers. An enabled TEE wins; a TEE that could not be read makes the type
 * `unknown` (never a guess); a TEE whose kernel support exists but is off is reported disabled.
 */
export function decideTee(
  tdx: TeeFacts | undefined,
  snp: TeeFacts | undefined,
  cpuVendor: string,
  problems: string[],
): Pick<ConfidentialHostStatusTee, "type" | "enabled" | "moduleVersion" | "firmwareVersion"> {
  const tdxState = tdx?.state ?? "unknown";
  const snpState = snp?.state ?? "unknown";
  if (tdxState === "enabled" && snpState === "enabled") {
    problems.push("both TDX and SEV-SNP report enabled");
    return { type: "unknown", enabled: false };
  }
  if (tdxState === "enabled") {
    if (cpuVendor !== "intel") {
      problems.push(`TDX reports enabled on a CPU of vendor ${cpuVendor}`);
      return { type: "unknown", enabled: false };
    }
    return { type: "tdx", enabled: true, moduleVersion: tdx?.version ?? UNKNOWN };
  }
  if (snpState === "enabled") {
    if (cpuVendor !== "amd") {
      problems.push(`SEV-SNP reports enabled on a CPU of vendor ${cpuVendor}`);
      return { type: "unknown", enabled: false };
    }
    return {
      type: "snp",
      enabled: true,
      ...(snp?.version === undefined ? {} : { firmwareVersion: snp.version }),
    };
  }
  if (tdxState === "unknown" || snpState === "unknown") return { type: "unknown", enabled: false };
  if (tdxState === "disabled")
    return {
      type: "tdx",
      enabled: false,
      ...(tdx?.version === undefined ? {} : { moduleVersion: tdx.version }),
    };
  if (snpState === "disabled")
    return {
      type: "snp",
      enabled: false,
      ...(snp?.version === undefined ? {} : { firmwareVersion: snp.version }),
    };
  return { type: "none", enabled: false };
}

/** Builds the status from the sources' outputs (pure; tested with hand-made outputs too). */
export function assembleStatus(results: SourceResults, observedAt: string, agentVersion: string): ScanResult {
  const platform = outputOf(results, platformSource)?.facts.platform ?? { ...UNKNOWN_PLATFORM };
  const teeProblems: string[] = [];
  const tee: ConfidentialHostStatusTee = {
    ...decideTee(
      outputOf(results, tdxSource)?.facts,
      outputOf(results, snpSource)?.facts,
      platform.cpuVendor,
      teeProblems,
    ),
    details: {},
  };
  const gpuFacts = outputOf(results, gpusSource)?.facts;
  const gpus = gpuFacts?.gpus ?? [];
  const nvswitches = gpuFacts?.nvswitches ?? [];
  const iommu = outputOf(results, iommuSource)?.facts.iommu ?? {};

  const details: Record<string, string> = {};
  const problems: string[] = [];
  const failingChecks: string[] = [];
  const names = [...new Set([...results.outputs.keys(), ...results.failures.keys()])].sort();
  for (const name of names) {
    const output = results.outputs.get(name);
    Object.assign(details, output?.details ?? {});
    const own = [...(output?.problems ?? [])];
    const failure = results.failures.get(name);
    if (failure !== undefined) own.push(failure);
    if (own.length > 0) {
      details[`problems.${name}`] = own.join("; ");
      failingChecks.push(name);
    }
    problems.push(...own);
  }
  if (teeProblems.length > 0) {
    details["problems.tee"] = teeProblems.join("; ");
    failingChecks.push("tee");
  }
  problems.push(...teeProblems);
  const keys = Object.keys(details).sort();
  if (keys.length > MAX_DETAILS)
    problems.push(`${keys.length - MAX_DETAILS} details left out (limit ${MAX_DETAILS})`);
  tee.details = Object.fromEntries(
    keys.slice(0, MAX_DETAILS).map((key) => [key, truncate(details[key] ?? "")]),
  );

  const status: ConfidentialHostStatus = {
    observedAt,
    agentVersion,
    platform,
    tee,
    iommu,
    gpus,
    ...(nvswitches.length > 0 ? { nvswitches } : {}),
    gpuSummary: {
      total: gpus.length,
      ccReady: gpus.filter((gpu) => gpu.ccMode === "on").length,
      nvswitches: nvswitches.length,
      mode: decideHostGpuMode(gpus, nvswitches).mode,
      ccModeSource: gpuFacts?.ccModeSource ?? "none",
    },
  };
  return { status, problems, failingChecks };
}
