// TEST-ONLY: a stand-in for KubeVirt's virt-controller and virt-handler on a control plane without
// KubeVirt (no webhooks, no pods, no kube-controller-manager). Used by integration tests and the demo;
// never shipped in the operator image (tsconfig.build.json only builds operator/src and guest/src).
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Node,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { isNotFound } from "../../operator/src/kube/api-error.ts";
import type { VirtualMachine, VirtualMachineInstance } from "../../operator/src/kubevirt/generated/types.ts";
import { Controller, objectKey } from "../../operator/src/runtime/controller.ts";
import { ResourceWatch } from "../../operator/src/runtime/informer.ts";
import { LauncherPods } from "./launcher-pods.ts";
import type { FailVmi } from "./lifecycle.ts";
import { type Cache, KUBEVIRT, SimulatorReconciler, VMIS, VMS } from "./reconciler.ts";

export { FAIL_ANNOTATION } from "./lifecycle.ts";

export interface KubevirtSimulatorOptions {
  kc: KubeConfig;
  log: Logger;
  /** Fails a VMI (phase Failed) while this returns true or a reason; checked at every step and resync. */
  failVmi?: FailVmi;
  /** Pause between VMI phase steps, so watchers can see each phase; 0 (default) steps straight through. */
  stepDelayMs?: number;
  /** Place VMIs only on existing, uncordoned Nodes whose labels match the whole nodeSelector. */
  matchNodes?: boolean;
  /**
   * Create each VMI already in the phase it would settle in (Running, with every phase in
   * phaseTransitionTimestamps): one VMI write instead of four, for benchmarks. Watchers then see
   * neither the intermediate phases nor the VM's Starting.
   */
  startRunning?: boolean;
  /** Every VM is looked at again this often (picks up changes of the failVmi hook). Default 1000 ms. */
  resyncMs?: number;
}

export interface KubevirtSimulator {
  stop(): Promise<void>;
}

/** Watches VirtualMachines in all namespaces and runs their VMIs (see ./README.md). */
export async function startKubevirtSimulator(options: KubevirtSimulatorOptions): Promise<KubevirtSimulator> {
  const { kc, log } = options;
  const objects = kc.makeApiClient(CustomObjectsApi);
  const statusSubresource = await statusSubresources(kc);

  const watches: ResourceWatch<KubernetesObject>[] = [];
  const watch = <T>(path: string, list: () => Promise<unknown>, onChange: (obj: T) => void): Cache<T> => {
    const w = new ResourceWatch<KubernetesObject>({
      kc,
      path,
      log,
      list: list as () => Promise<KubernetesListObject<KubernetesObject>>,
      onEvent: (_event, obj) => {
        onChange(obj as unknown as T);
      },
    });
    watches.push(w);
    // KubeVirt's generated types say string where client-node says Date; on the wire both are JSON.
    return {
      get: (name, namespace) => w.get(name, namespace) as unknown as T | undefined,
      list: () => w.list() as unknown as readonly T[],
    };
  };
  const enqueue = (obj: { metadata?: { name?: string; namespace?: string } }): void => {
    controller.enqueue(objectKey(obj));
  };
  const listAll = (plural: string) => () => objects.listClusterCustomObject({ ...KUBEVIRT, plural });
  const apis = `/apis/${KUBEVIRT.group}/${KUBEVIRT.version}`;
  const vms = watch<VirtualMachine>(`${apis}/${VMS}`, listAll(VMS), enqueue);
  const vmis = watch<VirtualMachineInstance>(`${apis}/${VMIS}`, listAll(VMIS), enqueue);
  const nodes =
    options.matchNodes === true
      ? watch<V1Node>(
          "/api/v1/nodes",
          () => kc.makeApiClient(CoreV1Api).listNode(),
          () => {
            for (const vm of vms.list()) enqueue(vm);
          },
        )
      : undefined;

  const reconciler = new SimulatorReconciler({
    log,
    objects,
    statusSubresource,
    vms,
    vmis,
    nodes,
    failVmi: options.failVmi,
    launcherPods: new LauncherPods(kc.makeApiClient(CoreV1Api), log),
    stepDelayMs: options.stepDelayMs ?? 0,
    startRunning: options.startRunning ?? false,
  });
  const controller = new Controller(reconciler, {
    log,
    workers: 4,
    resyncMs: options.resyncMs ?? 1000,
    allKeys: () => [...new Set([...vms.list(), ...vmis.list()].map(objectKey))],
  });
  await Promise.all(watches.map((w) => w.start()));
  await Promise.all(watches.map((w) => w.synced()));
  controller.start();
  log.info({ statusSubresource }, "KubeVirt simulator started");
  return {
    stop: async () => {
      await controller.stop();
      await Promise.all(watches.map((w) => w.stop()));
    },
  };
}

/** Whether each KubeVirt CRD serves `/status` (KubeVirt's VM CRD does, its VMI CRD does not). */
async function statusSubresources(kc: KubeConfig): Promise<Record<string, boolean>> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const result: Record<string, boolean> = {};
  for (const plural of [VMS, VMIS]) {
    const name = `${plural}.${KUBEVIRT.group}`;
    try {
      const crd = await api.readCustomResourceDefinition({ name });
      const version = crd.spec.versions.find((v) => v.name === KUBEVIRT.version);
      result[plural] = version?.subresources?.status !== undefined;
    } catch (error) {
      if (isNotFound(error)) {
        throw new Error(`CRD ${name} is not installed; apply hack/kubevirt/crds first`);
      }
      throw error;
    }
  }
  return result;
}
