// TEST-ONLY: the kubelet's device allocation on a simulated node. It offers the node's vfio-pci GPUs (from its host
// tree, as the NVIDIA KubeVirt GPU device plugin v1.5+ does: one resource per model, device ID = PCI address), gives
// each pod bound to the node the devices its containers' limits ask for, frees them when the pod goes, and serves
// the result on the node's PodResources socket (under the host tree, where the agent looks).
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { HostRoot } from "../../src/agent/host-root.ts";
import { DEFAULT_POD_RESOURCES_SOCKET } from "../../src/agent/pod-resources/observe.ts";
import { scanHost } from "../../src/agent/scan.ts";
import { gpuModelByName } from "../../src/api/gpu-models.ts";
import { startPodResourcesServer, type PodResourcesServer, type ServedPod } from "./pod-resources-server.ts";

/** Which `count` of the `free` device IDs (PCI order) a pod gets. */
export type PickDevices = (free: readonly string[], count: number, pod: string) => string[];

export const FIRST_FREE: PickDevices = (free, count) => free.slice(0, count);
/** Not what the controller would plan (it plans in PCI order): the last free ones. */
export const LAST_FREE: PickDevices = (free, count) => free.slice(-count);

export interface SimulatedKubelet {
  server: PodResourcesServer;
  /** Device IDs per `ns/pod`, as allocated. */
  allocations(): ReadonlyMap<string, readonly string[]>;
  stop(): Promise<void>;
}

export async function startSimulatedKubelet(options: {
  kc: KubeConfig;
  node: string;
  hostRoot: string;
  pick?: PickDevices;
  pollMs?: number;
}): Promise<SimulatedKubelet> {
  const { status } = await scanHost({
    host: new HostRoot(options.hostRoot),
    ccModeProviders: [],
    now: new Date(),
  });
  const offered = new Map<string, string[]>();
  for (const gpu of status.gpus ?? []) {
    const resource = gpuModelByName(gpu.model ?? "")?.resourceName;
    if (gpu.driver !== "vfio-pci" || resource === undefined) continue;
    offered.set(resource, [...(offered.get(resource) ?? []), gpu.pciAddress].sort());
  }
  const pick = options.pick ?? FIRST_FREE;
  const allocated = new Map<string, { resourceName: string; deviceIds: string[] }[]>();
  const server = await startPodResourcesServer(join(options.hostRoot, DEFAULT_POD_RESOURCES_SOCKET), {
    pods: [],
    allocatable: [...offered].map(([resourceName, deviceIds]) => ({ resourceName, deviceIds })),
  });
  const core = options.kc.makeApiClient(CoreV1Api);

  const sync = async (): Promise<void> => {
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${options.node}` });
    const present = new Set<string>();
    for (const pod of pods.items) {
      const key = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
      present.add(key);
      if (allocated.has(key) || pod.metadata?.deletionTimestamp !== undefined) continue;
      const devices: { resourceName: string; deviceIds: string[] }[] = [];
      let satisfied = true;
      for (const [resourceName, ids] of offered) {
        const wanted = (pod.spec?.containers ?? []).reduce(
          (sum, c) => sum + Number(c.resources?.limits?.[resourceName] ?? 0),
          0,
        );
        if (wanted === 0) continue;
        const taken = new Set([...allocated.values()].flat().flatMap((d) => d.deviceIds));
        const free = ids.filter((id) => !taken.has(id));
        // A real kubelet would refuse the pod; here a pod deleted a moment ago may still hold them: look again.
        if (free.length < wanted) satisfied = false;
        else devices.push({ resourceName, deviceIds: pick(free, wanted, key) });
      }
      if (satisfied) allocated.set(key, devices);
    }
    for (const key of allocated.keys()) if (!present.has(key)) allocated.delete(key);
    const served: ServedPod[] = [...allocated].map(([key, devices]) => {
      const [namespace = "", name = ""] = key.split("/");
      return { namespace, name, devices };
    });
    server.answer({
      pods: served,
      allocatable: [...offered].map(([resourceName, deviceIds]) => ({ resourceName, deviceIds })),
    });
  };

  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(sync).catch(() => undefined);
  }, options.pollMs ?? 250);
  return {
    server,
    allocations: () =>
      new Map([...allocated].map(([key, devices]) => [key, devices.flatMap((d) => d.deviceIds)])),
    async stop() {
      clearInterval(timer);
      await running;
      await server.close();
    },
  };
}
