import type {
  ConfidentialHost,
  ConfidentialHostStatusGpu,
  ConfidentialVM,
} from "../../api/v1alpha1/generated/types.ts";
import type { HostPolicy } from "../../attestation/policy/compiled-policy.ts";
import { evaluateHostEligibility } from "../../placement/host-eligibility.ts";
import { gpuModeOf } from "../../placement/gpu-request.ts";
import { type BoardOwnership, ppcieBoardOffer, ppcieHostRefusals } from "../../placement/ppcie-board.ts";

/** Devices already given to ConfidentialVMs (`placementClaims` keys) → the owning CVM's `ns/name`. */
export type GpuAssignments = ReadonlyMap<string, string>;

export function gpuKey(nodeName: string, pciAddress: string): string {
  return `${nodeName}/${pciAddress}`;
}

/** The claim on a host's whole PPCIe board (never a PCI address, so never a GPU's or NVSwitch's key). */
export function boardKey(nodeName: string): string {
  return `${nodeName}/ppcie-board`;
}

/**
 * What a placement holds in the ledger: its GPUs whose address is known (observed, or a whole board), its NVSwitches
 * and, with NVSwitches (a PPCIe board), the board.
 */
export function placementClaims(placement: Placement): string[] {
  const node = placement.nodeName;
  const nvswitches = placement.nvswitches ?? [];
  return [
    ...placement.gpus.flatMap((gpu) => (gpu.pciAddress === undefined ? [] : [gpuKey(node, gpu.pciAddress)])),
    ...nvswitches.map((nvswitch) => gpuKey(node, nvswitch.pciAddress)),
    ...(nvswitches.length > 0 ? [boardKey(node)] : []),
  ];
}

/** GPUs placed but not yet allocated by the device plugin: node → model → count. */
export type PendingGpus = ReadonlyMap<string, ReadonlyMap<string, number>>;

/** PCI addresses the host reports allocated to any pod (PodResources): taken, whoever holds them. */
function heldByPods(host: ConfidentialHost): Set<string> {
  return new Set(
    (host.status?.podResources?.pods ?? []).flatMap((pod) =>
      pod.devices.flatMap((d) => (d.pciAddress === undefined ? [] : [d.pciAddress])),
    ),
  );
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
  /** GPUs of other CVMs placed on a node whose PCI addresses are not known yet. */
  pending?: PendingGpus;
  /** Why KubeVirt could not run the CVM's VM on a Node (kubevirt-preflight.ts); none when not given. */
  kubevirtRefusals?: (nodeName: string) => string[];
}

/**
 * The node and, per requested GPU, the model it was picked as: in CC mode the device plugin picks the GPU itself (its
 * address is known once observed); a PPCIe board is every GPU and NVSwitch of the host, addresses included.
 */
export interface Placement {
  nodeName: string;
  gpus: readonly { model: string; pciAddress?: string }[];
  /** Only for a PPCIe board (spec.gpus.mode ppcie): all of its NVSwitches. */
  nvswitches?: readonly { pciAddress: string }[];
}

export type SchedulingResult =
  | { scheduled: true; placement: Placement }
  | { scheduled: false; refusals: { host: string; reasons: string[] }[] };

interface Offer {
  /** Usable GPUs on the host (what bin packing minimises), of which `gpus` are offered. */
  free: number;
  gpus: ConfidentialHostStatusGpu[];
  nvswitches: { pciAddress: string }[];
  reasons: string[];
}

function ownershipOn(host: ConfidentialHost, input: SchedulingInput): BoardOwnership {
  const nodeName = host.metadata.name ?? "";
  return {
    cvmKey: input.cvmKey,
    ownerOf: (pciAddress) => input.assignments.get(gpuKey(nodeName, pciAddress)),
    boardHolder: input.assignments.get(boardKey(nodeName)),
  };
}

/** CC mode: free CC-ready GPUs of the requested model, in PCI address order, on a host not in PPCIe mode. */
function ccOffer(host: ConfidentialHost, input: SchedulingInput, ownership: BoardOwnership): Offer {
  const { model, count } = input.cvm.spec.gpus ?? {};
  const held = heldByPods(host);
  const pending = new Map(input.pending?.get(host.metadata.name ?? "") ?? []);
  const gpus = (host.status?.gpus ?? [])
    .filter((gpu) => gpu.ccMode === "on" && gpu.driver === "vfio-pci")
    .filter((gpu) => model === undefined || gpu.model === model)
    .filter((gpu) => {
      const owner = ownership.ownerOf(gpu.pciAddress);
      return (owner === undefined || owner === input.cvmKey) && !held.has(gpu.pciAddress);
    })
    .sort((a, b) => (a.pciAddress < b.pciAddress ? -1 : 1))
    .filter((gpu) => {
      // Each GPU placed elsewhere without a known address takes one free GPU of its model.
      const left = pending.get(gpu.model ?? "") ?? 0;
      if (left === 0) return true;
      pending.set(gpu.model ?? "", left - 1);
      return false;
    });
  const reasons = ppcieHostRefusals(host, ownership);
  const wanted = count ?? 0;
  if (gpus.length < wanted)
    reasons.push(
      `${gpus.length} free CC-ready${model === undefined ? "" : ` ${model}`} GPUs, want ${wanted}`,
    );
  return { free: gpus.length, gpus: gpus.slice(0, wanted), nvswitches: [], reasons };
}

function ppcieOffer(host: ConfidentialHost, input: SchedulingInput, ownership: BoardOwnership): Offer {
  const offer = ppcieBoardOffer(host, input.cvm.spec.gpus?.model, ownership);
  return {
    ...offer,
    free: offer.gpus.length,
    nvswitches: offer.nvswitches.map((s) => ({ pciAddress: s.pciAddress })),
  };
}

function hostRefusals(host: ConfidentialHost, input: SchedulingInput): string[] {
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
  return reasons;
}

/**
 * Picks a validated host for a ConfidentialVM: right TEE, eligible under its policy, matching node selector, and
 * either enough free CC-ready GPUs of the requested model (CC mode) or a whole free PPCIe board (spec.gpus.mode
 * ppcie); a host in PPCIe mode takes nothing but its board's CVM. Deterministic: the host that leaves the fewest
 * GPUs unused wins (bin packing), then the smaller name; GPUs are taken in PCI address order.
 */
export function scheduleConfidentialVM(input: SchedulingInput): SchedulingResult {
  const board = gpuModeOf(input.cvm) === "ppcie";
  const fits: { host: string; offer: Offer }[] = [];
  const refusals: { host: string; reasons: string[] }[] = [];
  for (const host of input.hosts) {
    const name = host.metadata.name ?? "";
    const ownership = ownershipOn(host, input);
    const offer = board ? ppcieOffer(host, input, ownership) : ccOffer(host, input, ownership);
    const reasons = [...hostRefusals(host, input), ...offer.reasons];
    if (reasons.length === 0) fits.push({ host: name, offer });
    else refusals.push({ host: name, reasons });
  }
  fits.sort((a, b) => a.offer.free - b.offer.free || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  const best = fits[0];
  if (best === undefined) {
    return { scheduled: false, refusals: refusals.sort((a, b) => (a.host < b.host ? -1 : 1)) };
  }
  const gpus = best.offer.gpus.map((g) =>
    board ? { pciAddress: g.pciAddress, model: g.model ?? "" } : { model: g.model ?? "" },
  );
  return {
    scheduled: true,
    placement: {
      nodeName: best.host,
      gpus,
      ...(best.offer.nvswitches.length === 0 ? {} : { nvswitches: best.offer.nvswitches }),
    },
  };
}

/** One line naming why each candidate host was refused, for the Scheduling condition message. */
export function describeRefusals(refusals: readonly { host: string; reasons: string[] }[]): string {
  if (refusals.length === 0) return "no ConfidentialHosts exist";
  return refusals.map((r) => `${r.host}: ${r.reasons.join(", ")}`).join("; ");
}
