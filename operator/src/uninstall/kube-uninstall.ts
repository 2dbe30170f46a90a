// `trustgate uninstall` against the API server: reads the inventory planUninstall decides on, and runs its steps.

import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { CONFIDENTIAL_VM, GROUP, VERSION } from "../api/v1alpha1/generated/types.ts";
import { FINALIZER } from "../api/v1alpha1/labels.ts";
import { apiErrorStatus, isNotFound } from "../kube/api-error.ts";
import { mergePatch } from "../kube/merge-patch.ts";
import type { CvmFacts, Inventory, NodeFacts, UninstallStep, VmFacts } from "./plan.ts";

const jsonPatch = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
const CVMS = { group: GROUP, version: VERSION, plural: CONFIDENTIAL_VM.plural };
const VMS = { group: "kubevirt.io", version: "v1", plural: "virtualmachines" };

interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  finalizers?: string[];
  deletionTimestamp?: unknown;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { uid?: string }[];
}

export interface KubeUninstallOptions {
  /** How long stop-controller waits for the controller's pods to go. */
  timeoutMs: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** "<code> <reason>: <message>" of an API error, else its message: never a response dump. */
export function describeError(error: unknown): string {
  const status = apiErrorStatus(error);
  if (status === undefined) return error instanceof Error ? error.message : String(error);
  return `${String(status.code)}${status.reason === "" ? "" : ` ${status.reason}`}: ${status.message}`;
}

export class KubeUninstall {
  readonly #objects: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #options: KubeUninstallOptions;

  constructor(kc: KubeConfig, options: KubeUninstallOptions) {
    this.#objects = kc.makeApiClient(CustomObjectsApi);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#options = options;
  }

  /** Every ConfidentialVM and Node, and the VirtualMachine of each ConfidentialVM that `vmsOf` names. */
  async inventory(vmsOf: (cvm: CvmFacts) => boolean): Promise<Inventory> {
    const listed = (await this.#objects.listClusterCustomObject(CVMS)) as {
      items?: { metadata?: ObjectMeta }[];
    };
    const cvms: CvmFacts[] = (listed.items ?? []).map(({ metadata: m = {} }) => ({
      namespace: m.namespace ?? "",
      name: m.name ?? "",
      uid: m.uid ?? "",
      finalizers: m.finalizers ?? [],
      deleting: m.deletionTimestamp !== undefined && m.deletionTimestamp !== null,
    }));
    const vms: VmFacts[] = [];
    for (const cvm of cvms.filter(vmsOf)) {
      const vm = await this.#vm(cvm.namespace, cvm.name);
      if (vm !== undefined) vms.push(vm);
    }
    const nodes: NodeFacts[] = (await this.#core.listNode()).items.map((node) => ({
      name: node.metadata?.name ?? "",
      labels: node.metadata?.labels ?? {},
      annotations: node.metadata?.annotations ?? {},
    }));
    return { cvms, vms, nodes };
  }

  async #vm(namespace: string, name: string): Promise<VmFacts | undefined> {
    try {
      const vm = (await this.#objects.getNamespacedCustomObject({ ...VMS, namespace, name })) as {
        metadata?: ObjectMeta;
      };
      const m = vm.metadata ?? {};
      return {
        namespace,
        name,
        labels: m.labels ?? {},
        ownerUids: (m.ownerReferences ?? []).map((o) => o.uid ?? ""),
        deleting: m.deletionTimestamp !== undefined && m.deletionTimestamp !== null,
      };
    } catch (error) {
      // No such VM, or KubeVirt is not installed (no such API): nothing to delete.
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Runs one step; a step whose object is already gone counts as done. */
  async run(step: UninstallStep): Promise<void> {
    try {
      await this.#run(step);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
  }

  async #run(step: UninstallStep): Promise<void> {
    switch (step.kind) {
      case "stop-controller":
        return this.#stopController(step.namespace, step.name);
      case "delete-cvm":
        await this.#objects.deleteNamespacedCustomObject({
          ...CVMS,
          namespace: step.namespace,
          name: step.name,
        });
        return;
      case "delete-vm":
        await this.#objects.deleteNamespacedCustomObject({
          ...VMS,
          namespace: step.namespace,
          name: step.name,
        });
        return;
      case "remove-finalizer":
        // The test operation makes this fail, not drop someone else's finalizer, when the list changed meanwhile.
        await this.#objects.patchNamespacedCustomObject(
          {
            ...CVMS,
            namespace: step.namespace,
            name: step.name,
            body: [
              { op: "test", path: "/metadata/finalizers", value: step.finalizers },
              {
                op: "replace",
                path: "/metadata/finalizers",
                value: step.finalizers.filter((f) => f !== FINALIZER),
              },
            ],
          },
          jsonPatch,
        );
        return;
      case "unlabel-node": {
        const nulls = (keys: string[]): Record<string, null> =>
          Object.fromEntries(keys.map((k) => [k, null]));
        await this.#core.patchNode(
          {
            name: step.name,
            body: { metadata: { labels: nulls(step.labels), annotations: nulls(step.annotations) } },
          },
          mergePatch,
        );
        return;
      }
    }
  }

  async #stopController(namespace: string, name: string): Promise<void> {
    await this.#apps.patchNamespacedDeploymentScale(
      { namespace, name, body: { spec: { replicas: 0 } } },
      mergePatch,
    );
    const deployment = await this.#apps.readNamespacedDeployment({ namespace, name });
    const selector = Object.entries(deployment.spec?.selector.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    if (selector === "") throw new Error(`Deployment ${namespace}/${name} has no matchLabels selector`);
    const sleep = this.#options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const deadline = Date.now() + this.#options.timeoutMs;
    for (;;) {
      const pods = await this.#core.listNamespacedPod({ namespace, labelSelector: selector });
      if (pods.items.length === 0) return;
      if (Date.now() >= deadline) {
        const names = pods.items.map((p) => p.metadata?.name ?? "").join(", ");
        throw new Error(
          `the controller's pods are still there after ${String(this.#options.timeoutMs / 1000)} s: ${names}`,
        );
      }
      await sleep(this.#options.pollMs ?? 1000);
    }
  }
}
