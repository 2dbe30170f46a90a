/**
 * Which GPUs a ConfidentialVM's VM really has (pure): the ones the kubelet's device plugin allocated to its
 * virt-launcher pod, as the VM's host reports them from the PodResources API (status.podResources, signed by the
 * host's agent). Host-asserted like every host fact: a host cannot make the guest's GPU evidence say more, but it
 * can name the wrong GPUs, so a report that cannot be right (a GPU the host does not list, one GPU held twice, other
 * GPUs than the VM asked for, IDs that map to no GPU) is refused with the reason and never written to status.gpus.
 */
import type {
  ConfidentialHost,
  ConfidentialHostStatusPodResourcesPodDevice,
  ConfidentialVMStatusGpuAllocation,
} from "../../api/v1alpha1/generated/types.ts";
import type { VmPlacement } from "../../kubevirt/virtual-machine.ts";
import { gpuKey } from "./scheduling.ts";

/** KubeVirt's labels on a virt-launcher pod (pkg/virt-controller/services/template.go). */
export const LABEL_KUBEVIRT = "kubevirt.io";
export const VIRT_LAUNCHER = "virt-launcher";
/** The UID of the VirtualMachineInstance the pod runs. */
export const LABEL_CREATED_BY = "kubevirt.io/created-by";

/** What the controller knows of a virt-launcher pod from the API server (not from the host). */
export interface LauncherPod {
  namespace: string;
  name: string;
  nodeName?: string;
  /** Its `kubevirt.io/created-by` label: the UID of its VMI. */
  vmiUid?: string;
}

export type GpuSlot = VmPlacement["gpus"][number];

export type GpuAllocation =
  | { state: "Observed"; gpus: GpuSlot[]; message: string }
  | { state: Exclude<ConfidentialVMStatusGpuAllocation["state"], "Observed">; message: string };

export interface AllocationInput {
  /** `ns/name` of the ConfidentialVM. */
  cvmKey: string;
  namespace: string;
  /** The placement: its node and one slot per requested GPU (the model picked at placement). */
  placement: VmPlacement;
  /** UID of the running VMI; undefined when none runs. */
  runningVmiUid: string | undefined;
  host: ConfidentialHost | undefined;
  /** virt-launcher pods in the CVM's namespace (from the API server). */
  launcherPods: readonly LauncherPod[];
  /** `node/pciAddress` → `ns/name` of the CVM whose status (or this process' reservation) holds that GPU. */
  gpuOwners: ReadonlyMap<string, string>;
}

/** The placement's slots without PCI addresses: what the VM asked for. */
export function requestedSlots(placement: VmPlacement): GpuSlot[] {
  return placement.gpus.map((gpu) => ({ model: gpu.model }));
}

function refused(message: string): GpuAllocation {
  return { state: "Refused", message };
}

function sortedModels(slots: readonly { model: string }[]): string {
  return slots
    .map((s) => s.model)
    .sort()
    .join(", ");
}

/** The devices the host lists for the VMI's launcher pods, or why there are none (yet). */
function launcherDevices(
  input: AllocationInput,
  node: string,
):
  | { ok: true; pods: string[]; devices: ConfidentialHostStatusPodResourcesPodDevice[] }
  | { ok: false; allocation: GpuAllocation } {
  const report = input.host?.status?.podResources;
  if (report === undefined)
    return {
      ok: false,
      allocation: {
        state: "Unknown",
        message: `host ${node} does not report PodResources (an older agent, or --pod-resources-socket "")`,
      },
    };
  if (report.state !== "Observed")
    return {
      ok: false,
      allocation: {
        state: "Unknown",
        message: `host ${node} cannot read the kubelet's PodResources API: ${report.message ?? "no reason given"}`,
      },
    };
  const pods = input.launcherPods.filter(
    (pod) =>
      pod.namespace === input.namespace &&
      pod.vmiUid === input.runningVmiUid &&
      (pod.nodeName === undefined || pod.nodeName === node),
  );
  if (pods.length === 0)
    return {
      ok: false,
      allocation: {
        state: "Pending",
        message: `no virt-launcher pod of VMI ${input.runningVmiUid ?? ""} seen yet`,
      },
    };
  const names = new Set(pods.map((pod) => pod.name));
  const listed = (report.pods ?? []).filter((p) => p.namespace === input.namespace && names.has(p.name));
  if (listed.length === 0) {
    const which = [...names].map((n) => `${input.namespace}/${n}`).join(", ");
    return {
      ok: false,
      allocation: {
        state: "Pending",
        message: `host ${node} does not list GPUs of pod ${which} yet (report of ${input.host?.status?.observedAt ?? "unknown time"})`,
      },
    };
  }
  return {
    ok: true,
    pods: listed.map((p) => `${p.namespace}/${p.name}`),
    devices: listed.flatMap((p) => p.devices),
  };
}

/** Where the VM's GPUs stand (see the module comment); undefined for a CVM without GPUs. */
export function observeGpuAllocation(input: AllocationInput): GpuAllocation | undefined {
  const { placement } = input;
  const node = placement.nodeName;
  const requested = requestedSlots(placement);
  if (requested.length === 0) return undefined;
  if (input.runningVmiUid === undefined)
    return {
      state: "Requested",
      message: `${requested.length} GPUs requested on ${node}; the device plugin picks them when the VM starts`,
    };
  const found = launcherDevices(input, node);
  if (!found.ok) return found.allocation;
  const pods = found.pods.join(", ");

  const hostGpus = new Map((input.host?.status?.gpus ?? []).map((gpu) => [gpu.pciAddress, gpu]));
  const addresses: string[] = [];
  for (const device of found.devices) {
    if (device.pciAddress === undefined)
      return refused(
        `host ${node} reports device ${device.deviceId} (${device.resourceName}) of pod ${pods}, which it maps to no GPU: ${device.problem ?? "no reason given"}`,
      );
    if (!hostGpus.has(device.pciAddress))
      return refused(
        `host ${node} reports GPU ${device.pciAddress} allocated to pod ${pods}, but does not list that GPU`,
      );
    if (addresses.includes(device.pciAddress))
      return refused(`host ${node} reports GPU ${device.pciAddress} twice for pod ${pods}`);
    addresses.push(device.pciAddress);
  }
  const mine = new Set(found.pods);
  for (const other of input.host?.status?.podResources?.pods ?? []) {
    const name = `${other.namespace}/${other.name}`;
    if (mine.has(name)) continue;
    const shared = other.devices.find((d) => d.pciAddress !== undefined && addresses.includes(d.pciAddress));
    if (shared !== undefined)
      return refused(
        `host ${node} reports GPU ${shared.pciAddress ?? ""} allocated to both pod ${pods} and pod ${name}`,
      );
  }
  for (const address of addresses) {
    const owner = input.gpuOwners.get(gpuKey(node, address));
    if (owner !== undefined && owner !== input.cvmKey)
      return refused(
        `GPU ${address} on ${node}, which host ${node} reports for pod ${pods}, belongs to ${owner}`,
      );
  }
  const gpus = addresses
    .sort()
    .map((pciAddress) => ({ pciAddress, model: hostGpus.get(pciAddress)?.model ?? "" }));
  if (sortedModels(gpus) !== sortedModels(requested))
    return refused(
      `host ${node} reports ${gpus.length} GPUs for pod ${pods} (${gpus.map((g) => `${g.pciAddress} ${g.model || "unknown model"}`).join(", ")}); the VM requested ${requested.length} (${sortedModels(requested)})`,
    );
  return {
    state: "Observed",
    gpus,
    message: `GPUs the kubelet's device plugin allocated to pod ${pods}, as host ${node} reports them`,
  };
}

/** status.gpus and status.gpuAllocation for an allocation (placeholders unless Observed). */
export function allocationStatus(
  placement: VmPlacement,
  allocation: GpuAllocation | undefined,
): { gpus: GpuSlot[]; gpuAllocation: ConfidentialVMStatusGpuAllocation | undefined } {
  if (allocation === undefined) return { gpus: [], gpuAllocation: undefined };
  const gpuAllocation = { state: allocation.state, message: allocation.message.slice(0, 1024) };
  return allocation.state === "Observed"
    ? { gpus: allocation.gpus, gpuAllocation }
    : { gpus: requestedSlots(placement), gpuAllocation };
}
