// TEST-ONLY: a kubelet PodResources API (v1.PodResourcesLister) on a Unix socket, served by @grpc/grpc-js from the
// kubelet's own api.proto, so the agent's hand-written client is tested against an independent gRPC implementation.
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { REPO_ROOT } from "./samples.ts";

export const POD_RESOURCES_PROTO = join(REPO_ROOT, "operator/test/fixtures/podresources/api.proto");

/** What a pod holds, in the kubelet's terms (one container is enough for virt-launcher's `compute`). */
export interface ServedPod {
  namespace: string;
  name: string;
  devices: { resourceName: string; deviceIds: string[]; topology?: { nodes: { ID: string }[] } }[];
  /** A DRA claim in the same container (fields the agent must skip). */
  dynamicResources?: { claimName: string; claimNamespace: string }[];
}

export interface PodResourcesAnswers {
  pods: ServedPod[];
  /** GetAllocatableResources; undefined answers UNIMPLEMENTED, as a kubelet without the feature does. */
  allocatable?: { resourceName: string; deviceIds: string[] }[];
  /** Fail List with this gRPC status code. */
  listError?: grpc.status;
}

export interface PodResourcesServer {
  socketPath: string;
  /** Replaces what the server answers from now on. */
  answer(answers: PodResourcesAnswers): void;
  /** How many List calls it answered. */
  listCalls(): number;
  close(): Promise<void>;
}

type Callback = (error: grpc.ServiceError | null, value?: unknown) => void;

function serviceError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

/** Starts the server on `socketPath` (its directory is created). */
export async function startPodResourcesServer(
  socketPath: string,
  initial: PodResourcesAnswers = { pods: [] },
): Promise<PodResourcesServer> {
  const definition = loadSync(POD_RESOURCES_PROTO, { keepCase: false, longs: String, defaults: true });
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    v1: { PodResourcesLister: { service: grpc.ServiceDefinition } };
  };
  let answers = initial;
  let lists = 0;
  const server = new grpc.Server();
  server.addService(proto.v1.PodResourcesLister.service, {
    List: (_call: unknown, callback: Callback) => {
      lists += 1;
      if (answers.listError !== undefined) {
        callback(serviceError(answers.listError, "List refused by the test server"));
        return;
      }
      callback(null, {
        podResources: answers.pods.map((pod) => ({
          name: pod.name,
          namespace: pod.namespace,
          containers: [
            {
              name: "compute",
              devices: pod.devices,
              cpuIds: ["2", "3"],
              memory: [{ memoryType: "hugepages-1Gi", size: "1073741824" }],
              dynamicResources: pod.dynamicResources ?? [],
            },
          ],
        })),
      });
    },
    GetAllocatableResources: (_call: unknown, callback: Callback) => {
      if (answers.allocatable === undefined) {
        callback(serviceError(grpc.status.UNIMPLEMENTED, "GetAllocatableResources is not enabled"));
        return;
      }
      callback(null, { devices: answers.allocatable, cpuIds: ["0", "1", "2", "3"] });
    },
    Get: (_call: unknown, callback: Callback) => {
      callback(serviceError(grpc.status.UNIMPLEMENTED, "not served by the test server"));
    },
  });
  await mkdir(dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  if (Buffer.byteLength(socketPath) > 107)
    throw new Error(`Unix socket path ${socketPath} is longer than 107 bytes; use a shorter temp directory`);
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
      if (error === null) resolve();
      else reject(error);
    });
  });
  return {
    socketPath,
    answer: (next) => {
      answers = next;
    },
    listCalls: () => lists,
    close: () =>
      new Promise((resolve) => {
        server.tryShutdown(() => {
          resolve();
        });
      }),
  };
}
