import type {
  ConfidentialHost,
  ConfidentialHostStatusGpu,
  ConfidentialVM,
} from "../../api/v1alpha1/generated/types.ts";
import type { HostPolicy } from "../../attestation/policy/compiled-policy.ts";
import { evaluateHostEligibility } from "../../placement/host-eligibility.ts";

/** GPUs already given to ConfidentialVMs: `node/pciAddress` → the owning CVM's `ns/name`. */
export type GpuAssignments = ReadonlyMap<string, string>;

export function gpuKey(nodeName: string, pciAddress: string): string {
  return `${nodeName}/${pciAddress}`;
}

export interface SchedulingInput {
  cvm: ConfidentialVM;
  cvmKey: string;
  /** The host rules of the CVM's compiled AttestationPolicy. */
  hostRules: HostPolicy;
  hosts: readonly ConfidentialHost[];
  /** Node labels by Node name; a host whose Node is missing is refused. */
  nodeLabels: ReadonlyMap<string, Record<string, string>>;
  assignments: GpuAssignments;
  /** Why KubeVirt could not run the CVM's VM on a Node (kubevirt-preflight.ts); none when not given. */
  kubevirtRefusals?: (nodeName: string) => string[];
}

export interface Placement {
  nodeName: string;
  gpus: { pciAddress: string; model: string }[];
}

export type SchedulingResult =
  | { scheduled: true; placement: Placement }
  | { scheduled: false; refusals: { host: string; reasons: string[] }[] };

function usableGpus(host: ConfidentialHost, input: SchedulingInput): ConfidentialHostStatusGpu[] {
  const nodeName = host.metadata.name ?? "";
  const model = input.cvm.spec.gpus?.model;
  return (host.status?.gpus ?? [])
    .filter((gpu) => gpu.ccMode === "on" && gpu.driver === "vfio-pci")
    .filter((gpu) => model === undefined || gpu.model === model)
    .filter((gpu) => {
      const owner = input.assignments.get(gpuKey(nodeName, gpu.pciAddress));
      return owner === undefined || owner === input.cvmKey;
    })
    .sort((a, b) => (a.pciAddress < b.pciAddress ? -1 : 1));
}

function hostRefusals(host: ConfidentialHost, input: SchedulingInput, free: number): string[] {
  const { spec } = input.cvm;
  const reasons: string[] = [];
  const labels = input.nodeLabels.get(host.metadata.name ?? "");
  if (labels === undefined) reasons.push("Node not found");
  for (const [key, value] of Object.entries(spec.nodeSelector ?? {})) {
    if (labels !== undefined && labels[key] !== value)
      reasons.push(`Node label ${key}=${labels[key] ?? "<unset>"}, want ${value}`);
  }
  const tee = host.status?.tee?.type ?? "none";
  if (tee !== spec.tee) reasons.push(`TEE ${tee}, want ${spec.tee}`);
  reasons.push(...evaluateHostEligibility(host, input.hostRules).reasons);
  reasons.push(...(input.kubevirtRefusals?.(host.metadata.name ?? "") ?? []));
  const wanted = spec.gpus?.count ?? 0;
  if (free < wanted) {
    const model = spec.gpus?.model === undefined ? "" : ` ${spec.gpus.model}`;
    reasons.push(`${free} free CC-ready${model} GPUs, want ${wanted}`);
  }
  return reasons;
}

/**
 * Picks a validated host for a ConfidentialVM: right TEE, eligible under its policy, matching node
 * selector, enough free CC-ready GPUs of the requested model. Deterministic: the host that leaves the
 * fewest GPUs unused wins (bin packing), then the smaller name; GPUs are taken in PCI address order.
 */
export function scheduleConfidentialVM(input: SchedulingInput): SchedulingResult {
  const wanted = input.cvm.spec.gpus?.count ?? 0;
  const fits: { host: string; gpus: ConfidentialHostStatusGpu[] }[] = [];
  const refusals: { host: string; reasons: string[] }[] = [];
  for (const host of input.hosts) {
    const name = host.metadata.name ?? "";
    const gpus = usableGpus(host, input);
    const reasons = hostRefusals(host, input, gpus.length);
    if (reasons.length === 0) fits.push({ host: name, gpus });
    else refusals.push({ host: name, reasons });
  }
  fits.sort((a, b) => a.gpus.length - b.gpus.length || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  const best = fits[0];
  if (best === undefined) {
    return { scheduled: false, refusals: refusals.sort((a, b) => (a.host < b.host ? -1 : 1)) };
  }
  return {
    scheduled: true,
    placement: {
      nodeName: best.host,
      gpus: best.gpus.slice(0, wanted).map((g) => ({ pciAddress: g.pciAddress, model: g.model ?? "" })),
    },
  };
}

/** One line naming why each candidate host was refused, for the Scheduling condition message. */
export function describeRefusals(refusals: readonly { host: string; reasons: string[] }[]): string {
  if (refusals.length === 0) return "no ConfidentialHosts exist";
  return refusals.map((r) => `${r.host}: ${r.reasons.join(", ")}`).join("; ");
}
