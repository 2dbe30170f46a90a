// TEST-ONLY: the virt-controller/virt-handler part of the KubeVirt simulator. Never shipped in the image.
import { type CustomObjectsApi, type V1Node } from "@kubernetes/client-node";
import { mergePatch } from "../../operator/src/kube/merge-patch.ts";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { isConflict, isNotFound } from "../../operator/src/kube/api-error.ts";
import type {
  V1VirtualMachineInstanceStatus,
  V1VirtualMachineStatus,
  VirtualMachine,
  VirtualMachineInstance,
} from "../../operator/src/kubevirt/generated/types.ts";
import { rfc3339 } from "../../operator/src/runtime/conditions.ts";
import {
  objectKey,
  type ReconcileContext,
  type ReconcileResult,
  splitKey,
} from "../../operator/src/runtime/controller.ts";
import {
  type FailVmi,
  isFinal,
  machineStatus,
  nextInstanceStatus,
  requestedFailure,
  settledInstanceStatus,
  restartsInstance,
  runStrategyOf,
  startsInstance,
} from "./lifecycle.ts";
import type { LauncherPods } from "./launcher-pods.ts";
import { placeInstance } from "./placement.ts";

export const KUBEVIRT = { group: "kubevirt.io", version: "v1" } as const;
export const VMS = "virtualmachines";
export const VMIS = "virtualmachineinstances";
const RETRY_AFTER_STALE_CACHE_MS = 50;
// Pending → Scheduling → Scheduled → Running is three steps plus the final look; the bound keeps a
// worker from spinning if a status ever fails to settle.
const MAX_STEPS_PER_RECONCILE = 6;

export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(): readonly T[];
}

export interface ReconcilerDeps {
  log: Logger;
  objects: CustomObjectsApi;
  /** Per plural: whether the CRD serves `/status` (status writes must go there when it does). */
  statusSubresource: Record<string, boolean>;
  vms: Cache<VirtualMachine>;
  vmis: Cache<VirtualMachineInstance>;
  /** Present when VMIs may only land on matching Nodes. */
  nodes: Cache<V1Node> | undefined;
  failVmi: FailVmi | undefined;
  stepDelayMs: number;
  startRunning: boolean;
  /** virt-launcher pod objects for scheduled and running VMIs. */
  launcherPods?: LauncherPods;
}

/**
 * Reconciles one `namespace/name` key, shared by a VirtualMachine and its VMI: creates, steps, fails,
 * restarts and deletes the VMI, and derives the VM's status from it.
 */
export class SimulatorReconciler {
  readonly name = "kubevirt-simulator";
  readonly #deps: ReconcilerDeps;
  readonly #notBefore = new Map<string, number>();

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  async reconcile(key: string, context: ReconcileContext): Promise<ReconcileResult> {
    try {
      return await this.#reconcile(key);
    } catch (error) {
      // A write based on a cache that lags our own previous write: look again once the watch caught up.
      if (isConflict(error)) {
        context.log.debug("Stale cache (409); looking again shortly");
        return { requeueAfterMs: RETRY_AFTER_STALE_CACHE_MS };
      }
      // The object is gone; its delete event (or the resync) brings the key back.
      if (isNotFound(error)) return {};
      throw error;
    }
  }

  async #reconcile(key: string): Promise<ReconcileResult> {
    const { namespace = "", name } = splitKey(key);
    const vm = this.#deps.vms.get(name, namespace);
    let vmi = this.#deps.vmis.get(name, namespace);
    if (vm === undefined || vm.metadata?.deletionTimestamp !== undefined) {
      this.#notBefore.delete(key);
      // No kube-controller-manager means no garbage collector: owned VMIs go with their VM here.
      if (vmi !== undefined && controllingVmUid(vmi) !== undefined) await this.#deleteInstance(vmi);
      if (vm !== undefined) await this.#writeMachineStatus(vm, machineStatus(vm, undefined, now()));
      return {};
    }
    if (vmi !== undefined && controllingVmUid(vmi) !== vm.metadata?.uid) {
      if (controllingVmUid(vmi) === undefined) return {}; // a standalone VMI: not ours to touch
      await this.#deleteInstance(vmi); // left over from an earlier VM of the same name
      vmi = undefined;
    }

    const runStrategy = runStrategyOf(vm);
    if (vmi !== undefined && this.#shouldRemove(vm, vmi, runStrategy)) {
      await this.#deleteInstance(vmi);
      vmi = undefined;
    }
    if (vmi === undefined && startsInstance(runStrategy)) {
      vmi = await this.#createInstance(vm);
      this.#paceNextStep(key);
    }
    return this.#advance(key, vm, vmi);
  }

  /** Steps the VMI towards Running (or Failed) and keeps the VM's status in line after each step. */
  async #advance(
    key: string,
    initialVm: VirtualMachine,
    initialVmi: VirtualMachineInstance | undefined,
  ): Promise<ReconcileResult> {
    let vm = initialVm;
    let vmi = initialVmi;
    for (let step = 0; step < MAX_STEPS_PER_RECONCILE; step++) {
      let stepped = false;
      let waitMs = 0;
      if (vmi !== undefined) {
        const failure = requestedFailure(vm, vmi, this.#deps.failVmi);
        waitMs = failure === undefined ? this.#waitBeforeStep(key) : 0;
        if (waitMs === 0) {
          const status = nextInstanceStatus(vmi.status, {
            placement: placeInstance(vmi.spec, this.#deps.nodes?.list()),
            failure,
            now: now(),
          });
          if (!isDeepStrictEqual(status, vmi.status ?? {})) {
            vmi = await this.#writeInstanceStatus(vmi, status);
            stepped = true;
            this.#paceNextStep(key);
          }
        }
      }
      vm = await this.#writeMachineStatus(vm, machineStatus(vm, vmi, now()));
      if (vmi !== undefined) await this.#deps.launcherPods?.sync(vmi);
      if (waitMs > 0) return { requeueAfterMs: waitMs };
      if (!stepped) {
        this.#notBefore.delete(key);
        return {};
      }
    }
    this.#deps.log.warn({ vm: key }, "VMI status keeps changing; looking again later");
    return { requeueAfterMs: 1000 };
  }

  /** Our own writes trigger watch events at once; this keeps stepDelayMs between phase steps anyway. */
  #paceNextStep(key: string): void {
    const delay = this.#deps.stepDelayMs;
    if (delay > 0) this.#notBefore.set(key, Date.now() + delay);
  }

  #waitBeforeStep(key: string): number {
    return Math.max(0, (this.#notBefore.get(key) ?? 0) - Date.now());
  }

  #shouldRemove(vm: VirtualMachine, vmi: VirtualMachineInstance, runStrategy: string): boolean {
    if (runStrategy === "Halted") return true;
    const phase = vmi.status?.phase;
    return (
      isFinal(phase) &&
      restartsInstance(runStrategy, phase) &&
      requestedFailure(vm, vmi, this.#deps.failVmi) === undefined
    );
  }

  async #createInstance(vm: VirtualMachine): Promise<VirtualMachineInstance | undefined> {
    const { name = "", namespace = "", uid = "" } = vm.metadata ?? {};
    const template = vm.spec.template;
    if (template.spec === undefined) {
      this.#deps.log.warn({ vm: `${namespace}/${name}` }, "VirtualMachine template has no spec; no VMI");
      return undefined;
    }
    const body: VirtualMachineInstance = {
      apiVersion: "kubevirt.io/v1",
      kind: "VirtualMachineInstance",
      metadata: {
        name,
        namespace,
        ...(template.metadata?.labels === undefined ? {} : { labels: template.metadata.labels }),
        ...(template.metadata?.annotations === undefined
          ? {}
          : { annotations: template.metadata.annotations }),
        ownerReferences: [
          {
            apiVersion: "kubevirt.io/v1",
            kind: "VirtualMachine",
            name,
            uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: template.spec,
    };
    const input = {
      placement: placeInstance(template.spec, this.#deps.nodes?.list()),
      failure: requestedFailure(vm, body, this.#deps.failVmi),
      now: now(),
    };
    body.status = this.#deps.startRunning
      ? settledInstanceStatus(undefined, input)
      : nextInstanceStatus(undefined, input);
    const created = (await this.#deps.objects.createNamespacedCustomObject({
      ...KUBEVIRT,
      namespace,
      plural: VMIS,
      body,
    })) as VirtualMachineInstance;
    this.#deps.log.info({ vmi: `${namespace}/${name}` }, "Created VirtualMachineInstance");
    return created;
  }

  async #deleteInstance(vmi: VirtualMachineInstance): Promise<void> {
    const { name = "", namespace = "", uid } = vmi.metadata ?? {};
    await this.#deps.launcherPods?.remove(vmi);
    try {
      await this.#deps.objects.deleteNamespacedCustomObject({
        ...KUBEVIRT,
        namespace,
        plural: VMIS,
        name,
        body: { preconditions: { uid } },
      });
      this.#deps.log.info({ vmi: `${namespace}/${name}` }, "Deleted VirtualMachineInstance");
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** The resourceVersion makes the patch fail (409) when the cache lagged: phases never go backwards. */
  async #writeInstanceStatus(
    vmi: VirtualMachineInstance,
    status: V1VirtualMachineInstanceStatus,
  ): Promise<VirtualMachineInstance> {
    const updated = (await this.#patch(VMIS, vmi, {
      metadata: { resourceVersion: vmi.metadata?.resourceVersion },
      status,
    })) as VirtualMachineInstance;
    if (updated.status?.phase !== vmi.status?.phase) {
      this.#deps.log.info(
        { vmi: objectKey(vmi), phase: updated.status?.phase, node: updated.status?.nodeName },
        "VirtualMachineInstance phase",
      );
    }
    return updated;
  }

  async #writeMachineStatus(vm: VirtualMachine, status: V1VirtualMachineStatus): Promise<VirtualMachine> {
    if (isDeepStrictEqual(status, vm.status ?? {})) return vm;
    return (await this.#patch(VMS, vm, { status })) as VirtualMachine;
  }

  #patch(plural: string, obj: KubernetesObjectLike, body: object): Promise<unknown> {
    const request = {
      ...KUBEVIRT,
      namespace: obj.metadata?.namespace ?? "",
      plural,
      name: obj.metadata?.name ?? "",
      body,
    };
    return this.#deps.statusSubresource[plural] === true
      ? this.#deps.objects.patchNamespacedCustomObjectStatus(request, mergePatch)
      : this.#deps.objects.patchNamespacedCustomObject(request, mergePatch);
  }
}

interface KubernetesObjectLike {
  metadata?: { name?: string; namespace?: string };
}

function now(): string {
  return rfc3339(new Date());
}

function controllingVmUid(vmi: VirtualMachineInstance): string | undefined {
  return vmi.metadata?.ownerReferences?.find(
    (ref) =>
      ref.controller === true && ref.kind === "VirtualMachine" && ref.apiVersion.startsWith("kubevirt.io/"),
  )?.uid;
}
