import type {
  ConfidentialHost,
  ConfidentialHostStatusGpu,
  ConfidentialHostStatusNvswitch,
} from "../../api/v1alpha1/generated/types.ts";
import { LABEL_GPU_CC, LABEL_GPU_COUNT, LABEL_TEE, LABEL_VALIDATED } from "../../api/v1alpha1/labels.ts";
import type { DesiredCondition } from "../../runtime/conditions.ts";
import * as r from "../../api/v1alpha1/confidential-host-conditions.ts";
import { decideHostGpuMode, passthroughProblems, usableGpuCount } from "../../host/gpu-mode.ts";

export type ReportCheck = { ok: true } | { ok: false; reason: string };

/** Everything the host decision needs, gathered by the reconciler; the decision itself does no I/O. */
export interface HostInput {
  host: ConfidentialHost;
  nodeExists: boolean;
  report: ReportCheck;
  now: Date;
  staleAfterMs: number;
}

export interface HostDecision {
  conditions: DesiredCondition[];
  labels: Record<string, string>;
  /** The key id to pin on the host, when it changes. */
  pinKeyId?: string;
  /** When the report turns stale if nothing else happens. */
  recheckAfterMs?: number;
}

interface Finding {
  reason: string;
  message: string;
}

const VFIO_DRIVER = "vfio-pci";

/** Why the GPUs (and, on a PPCIe board, the NVSwitches) cannot be given to CVMs; empty when they can. */
export function gpuProblems(
  gpus: readonly ConfidentialHostStatusGpu[],
  nvswitches: readonly ConfidentialHostStatusNvswitch[] = [],
): string[] {
  const { problems } = decideHostGpuMode(gpus, nvswitches);
  return [...problems, ...gpus.flatMap((gpu) => passthroughProblems("GPU", gpu))];
}

function teeFinding(host: ConfidentialHost): Finding | undefined {
  const tee = host.status?.tee;
  if (tee === undefined) return { reason: r.REASON_TEE_NOT_READY, message: "no TEE reported" };
  if (tee.type === "none") return { reason: r.REASON_TEE_NOT_READY, message: "no TDX or SEV-SNP support" };
  if (tee.type === "unknown") return { reason: r.REASON_TEE_NOT_READY, message: "TEE state unknown" };
  if (!tee.enabled) return { reason: r.REASON_TEE_NOT_READY, message: `${tee.type.toUpperCase()} disabled` };
  return undefined;
}

function iommuFinding(host: ConfidentialHost): Finding | undefined {
  const iommu = host.status?.iommu;
  if (iommu?.enabled !== true) return { reason: r.REASON_IOMMU_NOT_READY, message: "IOMMU disabled" };
  if ((host.status?.gpus?.length ?? 0) > 0 && iommu.vfioLoaded !== true) {
    return { reason: r.REASON_IOMMU_NOT_READY, message: "vfio-pci not loaded" };
  }
  return undefined;
}

function reportFindings(
  input: HostInput,
  pinned: string | undefined,
  acknowledged: string | undefined,
): Finding[] {
  const status = input.host.status;
  if (status?.report === undefined)
    return [{ reason: r.REASON_NO_REPORT, message: "no signed report from the agent yet" }];
  const findings: Finding[] = [];
  if (!input.report.ok) findings.push({ reason: r.REASON_REPORT_INVALID, message: input.report.reason });
  const keyId = status.report.keyId;
  if (pinned !== undefined && pinned !== keyId && acknowledged !== keyId) {
    findings.push({
      reason: r.REASON_KEY_CHANGED,
      message: `agent key changed from ${pinned} to ${keyId}; acknowledge with annotation ${r.ANNOTATION_ACKNOWLEDGED_KEY}=${keyId}`,
    });
  }
  const observed = Date.parse(status.observedAt ?? "");
  const age = Number.isNaN(observed) ? Infinity : input.now.getTime() - observed;
  if (age > input.staleAfterMs) {
    const minutes = Number.isFinite(age) ? `${Math.floor(age / 60_000)}m` : "ever (no observedAt)";
    findings.push({ reason: r.REASON_REPORT_STALE, message: `report stale for ${minutes}` });
  }
  return findings;
}

function condition(type: string, finding: Finding | undefined, ok: Finding): DesiredCondition {
  return finding === undefined
    ? { type, status: "True", ...ok }
    : { type, status: "False", reason: finding.reason, message: finding.message };
}

/** Decides a host's conditions, Node labels and key pin from its report (NFD master + cert-manager readiness). */
export function decideHost(input: HostInput): HostDecision {
  const { host } = input;
  const annotations = host.metadata.annotations ?? {};
  const pinned = annotations[r.ANNOTATION_PINNED_KEY];
  const acknowledged = annotations[r.ANNOTATION_ACKNOWLEDGED_KEY];
  const gpus = host.status?.gpus ?? [];
  const nvswitches = host.status?.nvswitches ?? [];
  const gpuMode = decideHostGpuMode(gpus, nvswitches).mode;
  const tee = teeFinding(host);
  const gpuIssues = gpuProblems(gpus, nvswitches);
  const gpusFinding =
    gpuIssues.length > 0 ? { reason: r.REASON_GPUS_NOT_READY, message: gpuIssues.join("; ") } : undefined;

  const findings: Finding[] = [
    ...(input.nodeExists
      ? []
      : [{ reason: r.REASON_NODE_MISSING, message: `Node ${host.metadata.name ?? ""} not found` }]),
    ...reportFindings(input, pinned, acknowledged),
    ...(tee === undefined ? [] : [tee]),
    ...[iommuFinding(host)].filter((f): f is Finding => f !== undefined),
    ...(gpusFinding === undefined ? [] : [gpusFinding]),
  ];
  const validated: Finding | undefined =
    findings.length === 0
      ? undefined
      : { reason: findings[0]?.reason ?? "", message: findings.map((f) => f.message).join("; ") };

  const keyId = host.status?.report?.keyId;
  const reportUsable = input.report.ok && keyId !== undefined;
  const pinKeyId =
    reportUsable && (pinned === undefined || (pinned !== keyId && acknowledged === keyId))
      ? keyId
      : undefined;

  const observed = Date.parse(host.status?.observedAt ?? "");
  const untilStale = observed + input.staleAfterMs - input.now.getTime();

  return {
    conditions: [
      condition(r.CONDITION_TEE_READY, tee, {
        reason: r.REASON_TEE_ENABLED,
        message: `${(host.status?.tee?.type ?? "").toUpperCase()} enabled`,
      }),
      condition(
        r.CONDITION_GPUS_READY,
        gpusFinding,
        gpus.length === 0
          ? { reason: r.REASON_NO_GPUS, message: "no NVIDIA GPUs" }
          : gpuMode === "ppcie"
            ? {
                reason: r.REASON_GPUS_PPCIE,
                message: `${gpus.length} GPUs and ${nvswitches.length} NVSwitches in protected PCIe mode on ${VFIO_DRIVER}`,
              }
            : { reason: r.REASON_GPUS_CC_ON, message: `${gpus.length} GPUs in CC mode on ${VFIO_DRIVER}` },
      ),
      condition(r.CONDITION_VALIDATED, validated, { reason: r.REASON_VALID, message: "host validated" }),
    ],
    labels: {
      [LABEL_VALIDATED]: validated === undefined ? "true" : "false",
      [LABEL_TEE]: tee === undefined ? (host.status?.tee?.type ?? "none") : "none",
      [LABEL_GPU_CC]: gpuMode,
      [LABEL_GPU_COUNT]: String(usableGpuCount(gpus, gpuMode)),
    },
    ...(pinKeyId === undefined ? {} : { pinKeyId }),
    ...(Number.isFinite(untilStale) && untilStale > 0 ? { recheckAfterMs: untilStale + 1000 } : {}),
  };
}
