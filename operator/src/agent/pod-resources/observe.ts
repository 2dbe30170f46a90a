/**
 * Asks the kubelet's PodResources API (v1.PodResourcesLister on /var/lib/kubelet/pod-resources/kubelet.sock) which
 * devices each pod holds, and turns the answer into status.podResources. Never throws: an API that cannot be asked
 * is reported as `Unavailable` with the reason.
 */
import type {
  ConfidentialHostStatusGpu,
  ConfidentialHostStatusPodResources,
} from "../../api/v1alpha1/generated/types.ts";
import { join } from "node:path";
import { podResourcesStatus } from "./device-mapping.ts";
import { GRPC_UNIMPLEMENTED, GrpcError, unaryCall } from "./grpc-client.ts";
import {
  decodeAllocatableResourcesResponse,
  decodeListPodResourcesResponse,
  type PodDevices,
  type ResourceDevices,
} from "./messages.ts";

/** The kubelet's socket, as a host path. */
export const DEFAULT_POD_RESOURCES_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock";
const SERVICE = "/v1.PodResourcesLister";
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const EMPTY_REQUEST = new Uint8Array(0);
/** sun_path is 108 bytes on Linux, NUL included. */
const MAX_SOCKET_PATH = 107;

/** What the agent asks of the kubelet (injectable: tests use a real gRPC server or a fake). */
export interface PodResourcesSource {
  /** Where the answers come from, for messages. */
  readonly description: string;
  list(): Promise<PodDevices[]>;
  /** Throws GrpcError with code UNIMPLEMENTED where the kubelet does not serve it. */
  allocatable(): Promise<ResourceDevices[]>;
}

/** The kubelet's PodResources API on `socketPath` (a path in the agent's container). */
export function kubeletPodResources(
  socketPath: string,
  timeoutMs = 5_000,
  description = `kubelet PodResources API at ${socketPath}`,
): PodResourcesSource {
  const call = async (method: string): Promise<Uint8Array> => {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH)
      throw new GrpcError(`socket path is longer than a Unix socket path may be (${MAX_SOCKET_PATH} bytes)`);
    return unaryCall({
      socketPath,
      method: `${SERVICE}/${method}`,
      request: EMPTY_REQUEST,
      timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
  };
  return {
    description,
    list: async () => decodeListPodResourcesResponse(await call("List")),
    allocatable: async () => decodeAllocatableResourcesResponse(await call("GetAllocatableResources")),
  };
}

function reason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === "ENOENT" || (error instanceof GrpcError && /ENOENT/.test(error.message)))
    return "no socket (is /var/lib/kubelet/pod-resources mounted into the agent?)";
  return (error as Error).message;
}

export interface ObservedPodResources {
  podResources: ConfidentialHostStatusPodResources;
  problems: string[];
}

/** status.podResources from `source`, mapped onto the host's `gpus`. */
export async function observePodResources(
  source: PodResourcesSource,
  gpus: readonly ConfidentialHostStatusGpu[],
): Promise<ObservedPodResources> {
  let pods: PodDevices[];
  try {
    pods = await source.list();
  } catch (error) {
    const message = `${source.description}: List failed: ${reason(error)}`;
    return { podResources: { state: "Unavailable", message: message.slice(0, 1024) }, problems: [message] };
  }
  const notes: string[] = [];
  let allocatable: ResourceDevices[] | undefined;
  try {
    allocatable = await source.allocatable();
  } catch (error) {
    // Without it only resources some pod holds are recognised; List alone still names every allocated GPU.
    if (!(error instanceof GrpcError && error.code === GRPC_UNIMPLEMENTED))
      notes.push(`GetAllocatableResources failed: ${reason(error)}`);
  }
  const { status, problems } = podResourcesStatus(pods, allocatable, gpus, notes);
  return { podResources: status, problems: [...notes, ...problems] };
}

/** The kubelet's API under the host root; undefined when `socketHostPath` is "" (not asked, status left out). */
export function podResourcesUnderHostRoot(
  hostRoot: string,
  socketHostPath: string | undefined,
): PodResourcesSource | undefined {
  if (socketHostPath === "") return undefined;
  const hostPath = socketHostPath ?? DEFAULT_POD_RESOURCES_SOCKET;
  return kubeletPodResources(join(hostRoot, hostPath), undefined, `kubelet PodResources API at ${hostPath}`);
}
