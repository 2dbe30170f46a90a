/**
 * From the kubelet's device IDs to this host's GPUs (pure). Which ID a device plugin reports:
 * - NVIDIA kubevirt-gpu-device-plugin v1.5.0 and later (the GPU Operator's sandbox device plugin): the GPU's PCI
 *   address (its sysfs name, `0000:3b:00.0`), also what it puts into `PCI_RESOURCE_NVIDIA_COM_<NAME>`;
 * - that plugin up to v1.4.0, and KubeVirt's own PCI host-device plugin (permittedHostDevices without
 *   externalResourceProvider): the IOMMU group number (`42`); the env var then lists the group's PCI addresses.
 * virt-launcher hands the addresses of `PCI_RESOURCE_<resource name, upper-cased, / and . as _>` to the domain, so the
 * GPUs named by the IDs are the ones the VM gets. An IOMMU group is mapped only when exactly one GPU of this host is
 * in it; every ID that maps to no GPU is kept with the reason.
 */
import type {
  ConfidentialHostStatusGpu,
  ConfidentialHostStatusPodResources,
  ConfidentialHostStatusPodResourcesPod,
  ConfidentialHostStatusPodResourcesPodDevice,
} from "../../api/v1alpha1/generated/types.ts";
import type { PodDevices, ResourceDevices } from "./messages.ts";

/** CRD limits on status.podResources. */
export const MAX_PODS = 64;
export const MAX_DEVICES_PER_POD = 64;

const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
const IOMMU_GROUP = /^[0-9]{1,9}$/;

export type DeviceMapping = { pciAddress: string } | { problem: string };

/** Which of `gpus` the device plugin's `deviceId` is, or why none. */
export function gpuOfDeviceId(deviceId: string, gpus: readonly ConfidentialHostStatusGpu[]): DeviceMapping {
  if (PCI_ADDRESS.test(deviceId)) {
    const address = deviceId.toLowerCase();
    return gpus.some((gpu) => gpu.pciAddress === address)
      ? { pciAddress: address }
      : { problem: `PCI device ${address} is not a GPU this host reports` };
  }
  if (IOMMU_GROUP.test(deviceId)) {
    const group = String(Number(deviceId));
    const inGroup = gpus.filter((gpu) => gpu.iommuGroup === group);
    const [only] = inGroup;
    if (only !== undefined && inGroup.length === 1) return { pciAddress: only.pciAddress };
    return {
      problem:
        inGroup.length === 0
          ? `IOMMU group ${group} holds no GPU this host reports`
          : `IOMMU group ${group} holds ${inGroup.length} GPUs (${inGroup.map((g) => g.pciAddress).join(", ")}): which one is meant is unknown`,
    };
  }
  return { problem: "neither a PCI address nor an IOMMU group number" };
}

function truncated(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Resource names with at least one device ID that is a GPU of this host: the only resources reported. */
export function gpuResourceNames(
  resources: readonly ResourceDevices[],
  gpus: readonly ConfidentialHostStatusGpu[],
): Set<string> {
  const names = new Set<string>();
  for (const resource of resources)
    if (resource.deviceIds.some((id) => "pciAddress" in gpuOfDeviceId(id, gpus)))
      names.add(resource.resourceName);
  return names;
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * status.podResources for the pods `List` returned: the GPU-resource devices of each pod, sorted (the kubelet's
 * order varies between calls, and an unchanged report must compare equal), with every ID mapped to a host GPU or
 * kept with the reason it maps to none. `allocatable` (GetAllocatableResources) adds resource names whose devices are
 * all free; undefined when the kubelet does not serve it.
 */
export function podResourcesStatus(
  pods: readonly PodDevices[],
  allocatable: readonly ResourceDevices[] | undefined,
  gpus: readonly ConfidentialHostStatusGpu[],
  notes: readonly string[] = [],
): { status: ConfidentialHostStatusPodResources; problems: string[] } {
  const problems: string[] = [];
  const resources = gpuResourceNames([...(allocatable ?? []), ...pods.flatMap((p) => p.devices)], gpus);
  const reported: ConfidentialHostStatusPodResourcesPod[] = [];
  for (const pod of pods) {
    const devices: ConfidentialHostStatusPodResourcesPodDevice[] = [];
    for (const resource of pod.devices) {
      if (!resources.has(resource.resourceName)) continue;
      for (const deviceId of resource.deviceIds) {
        const mapped = gpuOfDeviceId(deviceId, gpus);
        const device = {
          resourceName: truncated(resource.resourceName, 253),
          deviceId: truncated(deviceId, 253),
        };
        if ("pciAddress" in mapped) devices.push({ ...device, pciAddress: mapped.pciAddress });
        else {
          devices.push({ ...device, problem: mapped.problem });
          problems.push(
            `pod ${pod.namespace}/${pod.name}: ${resource.resourceName} device ${deviceId}: ${mapped.problem}`,
          );
        }
      }
    }
    if (devices.length === 0) continue;
    devices.sort((a, b) => byText(a.resourceName, b.resourceName) || byText(a.deviceId, b.deviceId));
    if (devices.length > MAX_DEVICES_PER_POD)
      problems.push(
        `pod ${pod.namespace}/${pod.name}: ${devices.length - MAX_DEVICES_PER_POD} devices left out`,
      );
    reported.push({
      namespace: pod.namespace,
      name: pod.name,
      devices: devices.slice(0, MAX_DEVICES_PER_POD),
    });
  }
  reported.sort((a, b) => byText(a.namespace, b.namespace) || byText(a.name, b.name));
  if (reported.length > MAX_PODS) problems.push(`${reported.length - MAX_PODS} pods with GPUs left out`);
  const message = [...notes, ...problems].join("; ");
  return {
    status: {
      state: "Observed",
      ...(message === "" ? {} : { message: truncated(message, 1024) }),
      pods: reported.slice(0, MAX_PODS),
    },
    problems,
  };
}
