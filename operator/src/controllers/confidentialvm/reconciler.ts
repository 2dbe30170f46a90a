import { type CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type {
  AttestationPolicy,
  ConfidentialHost,
  ConfidentialVM,
  ConfidentialVMStatus,
} from "../../api/v1alpha1/generated/types.ts";
import { CONFIDENTIAL_VM, GROUP, VERSION } from "../../api/v1alpha1/generated/types.ts";
import { FINALIZER } from "../../api/v1alpha1/labels.ts";
import type { VirtualMachine, VirtualMachineInstance } from "../../kubevirt/generated/types.ts";
import { buildVirtualMachine, VmBuildError, type VmPlacement } from "../../kubevirt/virtual-machine.ts";
import {
  objectKey,
  splitKey,
  type ReconcileContext,
  type Reconciler,
  type ReconcileResult,
} from "../../runtime/controller.ts";
import { type EventRecorder, involvedObject } from "../../runtime/events.ts";
import { type AttestationDeps, reconcileAttestation } from "./attest.ts";
import { GuestIdentities, type GuestIdentityApi } from "./guest-identity-memo.ts";
import type { GpuLedger } from "./gpu-ledger.ts";
import { hostState, launchSpecHash, placementFitsSpec, recordedPlacement, vmState } from "./lifecycle.ts";
import * as r from "../../api/v1alpha1/confidential-vm-conditions.ts";
import { describeRefusals, scheduleConfidentialVM } from "./scheduling.ts";
import { type StatusUpdate, writeStatus } from "./status.ts";
import { VmObjects } from "./vm-objects.ts";

interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}

export interface CvmReconcilerDeps {
  cvms: Cache<ConfidentialVM>;
  policies: Cache<AttestationPolicy>;
  hosts: Cache<ConfidentialHost>;
  nodeLabels: () => ReadonlyMap<string, Record<string, string>>;
  vms: Cache<VirtualMachine>;
  vmis: Cache<VirtualMachineInstance>;
  objects: CustomObjectsApi;
  events: EventRecorder;
  ledger: GpuLedger;
  /** The attestation handshake; without it CVMs stop at Attesting. */
  attestation?: AttestationDeps;
  /** Per-CVM guest identity and cloud-init (the sidecar's API access); without it the VM boots unconfigured. */
  guestIdentity?: GuestIdentityApi;
  now?: () => Date;
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const RESCHEDULE_MS = 30_000;
const DELETE_POLL_MS = 1_000;
const CDI_RETRY_MS = 60_000;

/** Reconciles one ConfidentialVM (`ns/name`): place it on a validated host, launch its VM, track it. */
export class ConfidentialVMReconciler implements Reconciler {
  readonly name = "confidentialvm";
  readonly #deps: CvmReconcilerDeps;
  readonly #vmObjects: VmObjects;
  readonly #identities: GuestIdentities | undefined;

  constructor(deps: CvmReconcilerDeps) {
    this.#deps = deps;
    this.#vmObjects = new VmObjects(deps.objects);
    this.#identities = deps.guestIdentity === undefined ? undefined : new GuestIdentities(deps.guestIdentity);
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const { namespace = "", name } = splitKey(key);
    const cvm = this.#deps.cvms.get(name, namespace);
    this.#deps.ledger.settle(key, cvm);
    if (cvm === undefined) {
      this.#deps.ledger.release(key);
      this.#identities?.forget(key);
      return {};
    }
    if (cvm.metadata.deletionTimestamp !== undefined) return this.#finalize(cvm, ctx);
    if (!(cvm.metadata.finalizers ?? []).includes(FINALIZER)) {
      await this.#patchMeta(cvm, { finalizers: [...(cvm.metadata.finalizers ?? []), FINALIZER] });
      return {};
    }
    return this.#reconcileLive(cvm, ctx);
  }

  async #reconcileLive(cvm: ConfidentialVM, ctx: ReconcileContext): Promise<ReconcileResult> {
    const deps = this.#deps;
    const ns = cvm.metadata.namespace ?? "";
    const vmName = cvm.metadata.name ?? "";
    const vm = deps.vms.get(vmName, ns);
    const policy = deps.policies.get(cvm.spec.policyRef);
    if (policy === undefined) {
      const message = `AttestationPolicy ${cvm.spec.policyRef} not found`;
      await this.#status(cvm, ctx, {
        phase: vm === undefined ? "Pending" : "Degraded",
        message,
        conditions: [
          { type: r.CONDITION_HOST_VALIDATED, status: "Unknown", reason: r.REASON_POLICY_NOT_FOUND, message },
        ],
        event: { type: "Warning", reason: r.REASON_POLICY_NOT_FOUND },
      });
      return {};
    }

    let placement = recordedPlacement(cvm);
    if (placement !== undefined && !placementFitsSpec(cvm, placement)) {
      if (vm !== undefined)
        return this.#deleteVm(cvm, ctx, "GPU request changed; relaunching on a new placement");
      placement = undefined;
    }
    if (placement !== undefined) {
      const host = hostState(deps.hosts.get(placement.nodeName), placement.nodeName);
      if (!host.ok) {
        if (vm === undefined) {
          placement = undefined;
        } else {
          await this.#status(cvm, ctx, {
            phase: "Degraded",
            message: host.message,
            conditions: [
              {
                type: r.CONDITION_HOST_VALIDATED,
                status: "False",
                reason: host.reason === "gone" ? r.REASON_HOST_GONE : r.REASON_HOST_NOT_VALIDATED,
                message: host.message,
              },
              {
                type: r.CONDITION_READY,
                status: "False",
                reason: r.REASON_HOST_NOT_VALIDATED,
                message: host.message,
              },
              {
                type: r.CONDITION_ATTESTED,
                status: "False",
                reason: r.REASON_HOST_NOT_VALIDATED,
                message: host.message,
              },
            ],
            event: { type: "Warning", reason: r.REASON_HOST_NOT_VALIDATED },
          });
          return {};
        }
      }
    }
    if (placement === undefined) return this.#schedule(cvm, policy, ctx);
    return this.#launch(cvm, placement, vm, policy, ctx);
  }

  async #schedule(
    cvm: ConfidentialVM,
    policy: AttestationPolicy,
    ctx: ReconcileContext,
  ): Promise<ReconcileResult> {
    const deps = this.#deps;
    const key = objectKey(cvm);
    return deps.ledger.exclusive(async () => {
      const result = scheduleConfidentialVM({
        cvm,
        cvmKey: key,
        policy: policy.spec,
        hosts: deps.hosts.list(),
        nodeLabels: deps.nodeLabels(),
        assignments: deps.ledger.assignments(deps.cvms.list()),
      });
      if (!result.scheduled) {
        const message = `no eligible host: ${describeRefusals(result.refusals)}`;
        await this.#status(cvm, ctx, {
          phase: "Scheduling",
          message,
          placement: null,
          conditions: [
            { type: r.CONDITION_HOST_VALIDATED, status: "False", reason: r.REASON_NO_ELIGIBLE_HOST, message },
            {
              type: r.CONDITION_DEPLOYED,
              status: "False",
              reason: r.REASON_NOT_SCHEDULED,
              message: "waiting for an eligible host",
            },
            { type: r.CONDITION_READY, status: "False", reason: r.REASON_NO_ELIGIBLE_HOST, message },
          ],
          event: { type: "Warning", reason: r.REASON_NO_ELIGIBLE_HOST },
        });
        return { requeueAfterMs: RESCHEDULE_MS };
      }
      const { placement } = result;
      deps.ledger.reserve(key, placement);
      const message = `placed on validated host ${placement.nodeName} with ${placement.gpus.length} GPUs`;
      await this.#status(cvm, ctx, {
        phase: "Launching",
        message,
        placement,
        conditions: [
          { type: r.CONDITION_HOST_VALIDATED, status: "True", reason: r.REASON_HOST_VALIDATED, message },
          {
            type: r.CONDITION_DEPLOYED,
            status: "False",
            reason: r.REASON_VMI_PENDING,
            message: "creating the VirtualMachine",
          },
          {
            type: r.CONDITION_READY,
            status: "False",
            reason: r.REASON_NOT_ATTESTED,
            message: "not attested yet",
          },
        ],
        event: { type: "Normal", reason: "Scheduled" },
      });
      return {};
    });
  }

  async #launch(
    cvm: ConfidentialVM,
    placement: VmPlacement,
    vm: VirtualMachine | undefined,
    policy: AttestationPolicy,
    ctx: ReconcileContext,
  ): Promise<ReconcileResult> {
    const ns = cvm.metadata.namespace ?? "";
    const name = cvm.metadata.name ?? "";
    const hash = launchSpecHash(cvm, placement);
    const state = vmState(vm, this.#deps.vmis.get(name, ns), hash, placement.nodeName);
    const hostOk = {
      type: r.CONDITION_HOST_VALIDATED,
      status: "True" as const,
      reason: r.REASON_HOST_VALIDATED,
      message: `host ${placement.nodeName} validated`,
    };
    switch (state.kind) {
      case "missing":
        return this.#createVm(cvm, placement, hash, ctx);
      case "outdated":
        return this.#deleteVm(cvm, ctx, "spec changed; relaunching the VM");
      case "deleting":
        return { requeueAfterMs: DELETE_POLL_MS };
      case "halted":
        await this.#status(cvm, ctx, {
          phase: "Launching",
          message: "runStrategy Halted: the VM is stopped",
          conditions: [
            hostOk,
            {
              type: r.CONDITION_DEPLOYED,
              status: "False",
              reason: r.REASON_HALTED,
              message: "runStrategy Halted",
            },
          ],
        });
        return {};
      case "starting":
        await this.#status(cvm, ctx, {
          phase: "Launching",
          message: state.message,
          conditions: [
            hostOk,
            {
              type: r.CONDITION_DEPLOYED,
              status: "False",
              reason: r.REASON_VMI_PENDING,
              message: state.message,
            },
          ],
        });
        return {};
      case "failed":
        await this.#status(cvm, ctx, {
          phase: "Failed",
          message: state.message,
          conditions: [
            hostOk,
            {
              type: r.CONDITION_DEPLOYED,
              status: "False",
              reason: r.REASON_VMI_FAILED,
              message: state.message,
            },
            { type: r.CONDITION_READY, status: "False", reason: r.REASON_VMI_FAILED, message: state.message },
          ],
          event: { type: "Warning", reason: r.REASON_VMI_FAILED },
        });
        return {};
      case "running": {
        const attesting = cvm.status?.phase === "Attested" ? "Attested" : "Attesting";
        const wrote = await this.#status(cvm, ctx, {
          phase: attesting,
          message: `VM running on validated host ${placement.nodeName}`,
          conditions: [
            hostOk,
            {
              type: r.CONDITION_DEPLOYED,
              status: "True",
              reason: r.REASON_VMI_RUNNING,
              message: `VMI Running on ${placement.nodeName}`,
            },
          ],
          event: { type: "Normal", reason: r.REASON_VMI_RUNNING },
        });
        // The handshake runs on the next pass, against the object this write produced.
        if (wrote || this.#deps.attestation === undefined) return {};
        const renewAfterMs = await this.#ensureGuestIdentity(cvm);
        const result = await reconcileAttestation(cvm, policy, this.#deps.attestation, ctx);
        if (renewAfterMs === undefined || result.requeueAfterMs === undefined) return result;
        return { requeueAfterMs: Math.min(result.requeueAfterMs, Math.max(renewAfterMs, 1000)) };
      }
    }
  }

  async #createVm(
    cvm: ConfidentialVM,
    placement: VmPlacement,
    hash: string,
    ctx: ReconcileContext,
  ): Promise<ReconcileResult> {
    let vm: VirtualMachine;
    try {
      vm = buildVirtualMachine(cvm, placement);
    } catch (error) {
      if (!(error instanceof VmBuildError)) throw error;
      await this.#status(cvm, ctx, {
        phase: "Failed",
        message: error.message,
        conditions: [
          {
            type: r.CONDITION_DEPLOYED,
            status: "False",
            reason: r.REASON_VM_INVALID,
            message: error.message,
          },
        ],
        event: { type: "Warning", reason: r.REASON_VM_INVALID },
      });
      return {};
    }
    vm.metadata = { ...vm.metadata, annotations: { [r.ANNOTATION_SPEC_HASH]: hash } };
    await this.#ensureGuestIdentity(cvm);
    const ns = cvm.metadata.namespace ?? "";
    if (cvm.spec.image.http !== undefined && !(await this.#vmObjects.ensureDataVolume(cvm))) {
      const message =
        "http images are imported by CDI, but the DataVolume API (cdi.kubevirt.io/v1beta1) is not installed";
      await this.#status(cvm, ctx, {
        phase: "Launching",
        message,
        conditions: [{ type: r.CONDITION_DEPLOYED, status: "False", reason: r.REASON_CDI_MISSING, message }],
        event: { type: "Warning", reason: r.REASON_CDI_MISSING },
      });
      return { requeueAfterMs: CDI_RETRY_MS };
    }
    const outcome = await this.#vmObjects.createVirtualMachine(ns, vm);
    if (outcome.kind === "rejected") {
      await this.#status(cvm, ctx, {
        phase: "Failed",
        message: outcome.message,
        conditions: [
          {
            type: r.CONDITION_DEPLOYED,
            status: "False",
            reason: r.REASON_VM_INVALID,
            message: outcome.message,
          },
        ],
        event: { type: "Warning", reason: r.REASON_VM_INVALID },
      });
      return {};
    }
    if (outcome.kind === "created")
      ctx.log.info({ node: placement.nodeName, gpus: placement.gpus.length }, "Created VirtualMachine");
    return {};
  }

  /** Ensures the CVM's guest identity (when configured); returns when its token is due for renewal. */
  async #ensureGuestIdentity(cvm: ConfidentialVM): Promise<number | undefined> {
    return this.#identities?.ensure(cvm, (this.#deps.now ?? (() => new Date()))());
  }

  async #deleteVm(cvm: ConfidentialVM, ctx: ReconcileContext, why: string): Promise<ReconcileResult> {
    await this.#vmObjects.deleteVirtualMachine(cvm.metadata.namespace ?? "", cvm.metadata.name ?? "");
    ctx.log.info({ why }, "Deleted VirtualMachine");
    await this.#status(cvm, ctx, {
      phase: "Launching",
      message: why,
      conditions: [
        { type: r.CONDITION_DEPLOYED, status: "False", reason: r.REASON_VM_RELAUNCHING, message: why },
      ],
      event: { type: "Normal", reason: r.REASON_VM_RELAUNCHING },
    });
    return { requeueAfterMs: DELETE_POLL_MS };
  }

  async #finalize(cvm: ConfidentialVM, ctx: ReconcileContext): Promise<ReconcileResult> {
    if (!(cvm.metadata.finalizers ?? []).includes(FINALIZER)) return {};
    const vm = this.#deps.vms.get(cvm.metadata.name ?? "", cvm.metadata.namespace);
    if (vm !== undefined) {
      if (vm.metadata?.deletionTimestamp === undefined) {
        await this.#vmObjects.deleteVirtualMachine(cvm.metadata.namespace ?? "", cvm.metadata.name ?? "");
        ctx.log.info("Deleted VirtualMachine of a deleted ConfidentialVM");
      }
      return { requeueAfterMs: DELETE_POLL_MS };
    }
    if (cvm.spec.image.http !== undefined) await this.#vmObjects.deleteDataVolume(cvm);
    await this.#patchMeta(cvm, {
      finalizers: (cvm.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
    });
    this.#deps.ledger.release(objectKey(cvm));
    ctx.log.info("Released GPUs and removed finalizer");
    return {};
  }

  async #patchMeta(cvm: ConfidentialVM, metadata: { finalizers: string[] }): Promise<void> {
    await this.#deps.objects.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: CONFIDENTIAL_VM.plural,
        namespace: cvm.metadata.namespace ?? "",
        name: cvm.metadata.name ?? "",
        body: { metadata: { ...metadata, resourceVersion: cvm.metadata.resourceVersion } },
      },
      mergePatch,
    );
  }

  async #status(cvm: ConfidentialVM, ctx: ReconcileContext, update: StatusUpdate): Promise<boolean> {
    const now = (this.#deps.now ?? (() => new Date()))();
    const written = await writeStatus(this.#deps.objects, cvm, update, now);
    if (!written) return false;
    ctx.log.info({ phase: update.phase }, "Patched ConfidentialVM status");
    const previous: ConfidentialVMStatus["phase"] = cvm.status?.phase;
    if (update.event !== undefined && previous !== update.phase) {
      await this.#deps.events.record(
        involvedObject(cvm),
        update.event.type,
        update.event.reason,
        update.message,
      );
    }
    return true;
  }
}
