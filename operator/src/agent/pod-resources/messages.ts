/**
 * The parts of the kubelet PodResources v1 messages the agent reads (kubernetes/kubelet
 * pkg/apis/podresources/v1/api.proto): pod name and namespace, and each container's devices per resource.
 * CPU, memory and DRA fields are skipped.
 */
import { protoMessage, protoString, wireFields } from "./protobuf.ts";

/** ContainerDevices: one resource's device IDs. */
export interface ResourceDevices {
  resourceName: string;
  deviceIds: string[];
}

/** PodResources, with the devices of all its containers. */
export interface PodDevices {
  namespace: string;
  name: string;
  devices: ResourceDevices[];
}

// Field numbers from api.proto.
const CONTAINER_DEVICES = { resourceName: 1, deviceIds: 2 } as const;
const CONTAINER_RESOURCES = { devices: 2 } as const;
const POD_RESOURCES = { name: 1, namespace: 2, containers: 3 } as const;
const LIST_RESPONSE = { podResources: 1 } as const;
const ALLOCATABLE_RESPONSE = { devices: 1 } as const;

function decodeContainerDevices(bytes: Uint8Array): ResourceDevices {
  const result: ResourceDevices = { resourceName: "", deviceIds: [] };
  for (const field of wireFields(bytes)) {
    if (field.field === CONTAINER_DEVICES.resourceName) result.resourceName = protoString(field);
    else if (field.field === CONTAINER_DEVICES.deviceIds) result.deviceIds.push(protoString(field));
  }
  return result;
}

function decodeContainerResources(bytes: Uint8Array): ResourceDevices[] {
  const devices: ResourceDevices[] = [];
  for (const field of wireFields(bytes))
    if (field.field === CONTAINER_RESOURCES.devices)
      devices.push(decodeContainerDevices(protoMessage(field)));
  return devices;
}

function decodePodResources(bytes: Uint8Array): PodDevices {
  const pod: PodDevices = { namespace: "", name: "", devices: [] };
  for (const field of wireFields(bytes)) {
    if (field.field === POD_RESOURCES.name) pod.name = protoString(field);
    else if (field.field === POD_RESOURCES.namespace) pod.namespace = protoString(field);
    else if (field.field === POD_RESOURCES.containers)
      pod.devices.push(...decodeContainerResources(protoMessage(field)));
  }
  return pod;
}

/** ListPodResourcesResponse → every pod with its devices. Throws ProtobufError when malformed. */
export function decodeListPodResourcesResponse(bytes: Uint8Array): PodDevices[] {
  const pods: PodDevices[] = [];
  for (const field of wireFields(bytes))
    if (field.field === LIST_RESPONSE.podResources) pods.push(decodePodResources(protoMessage(field)));
  return pods;
}

/** AllocatableResourcesResponse → the devices the device plugins offer. Throws ProtobufError when malformed. */
export function decodeAllocatableResourcesResponse(bytes: Uint8Array): ResourceDevices[] {
  const devices: ResourceDevices[] = [];
  for (const field of wireFields(bytes))
    if (field.field === ALLOCATABLE_RESPONSE.devices)
      devices.push(decodeContainerDevices(protoMessage(field)));
  return devices;
}
