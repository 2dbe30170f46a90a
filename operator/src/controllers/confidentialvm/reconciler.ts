import { type CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type {
  AttestationPolicy,
  ConfidentialHost,
  ConfidentialVM,
} from "../../api/v1alpha1/generated/types.ts";
import { CONFIDENTIAL_VM, GROUP, VERSION } from "../../api/v1alpha1/generated/types.ts";
import { FINALIZER } from "../../api/v1alpha1/labels.ts";
import type { VirtualMachine, VirtualMachineInstance } from "../../kubevirt/generated/types.ts";
import { VmBuildError, type VmPlacement, type VmRenderOptions } from "../../kubevirt/virtual-machine.ts";
import {
  objectKey,
  splitKey,
  type ReconcileContext,
  type Reconciler,
  type ReconcileResult,
} from "../../runtime/controller.ts";
import { type EventRecorder, involvedObject } from "../../runtime/events.ts";
import { type AttestationDeps, reconcileAttestation, withdrawAttested } from "./attest.ts";
import { GuestIdentities, type GuestIdentityApi } from "./guest-identity-memo.ts";
import type { GpuLedger } from "./gpu-ledger.ts";
import { allocationStatus, type LauncherPod, observeGpuAllocation } from "./gpu-allocation.ts";
import {
  legacySpecHash,
  launchedAsWanted,
  launchedWithGpuTags,
  type RenderedLaunch,
  renderLaunch,
} from "./launch-hash.ts";
import { hostState, placementFitsSpec, recordedPlacement, vmState } from "./lifecycle.ts";
import { type KubeVirtAccess, KubeVirtPreflight } from "./kubevirt-preflight.ts";
import * as s from "./lifecycle-status.ts";
import { stageOfPhase } from "./readiness.ts";
import * as r from "../../api/v1alpha1/confidential-vm-conditions.ts";
import { describeRefusals, scheduleConfidentialVM } from "./scheduling.ts";
import { lifecyclePatch, type StatusUpdate, writeStatus } from "./status.ts";
import { VmObjects } from "./vm-objects.ts";
import { sharedPolicyCompiler } from "../../attestation/policy/compiled-policy.ts";

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
  /**
   * virt-launcher pods of a namespace whose `kubevirt.io/created-by` is the VMI UID (none for `undefined`), from the
   * API server: the pod whose GPUs the host reports.
   */
  launcherPods?: (namespace: string, vmiUid: string | undefined) => readonly LauncherPod[];
  /** KubeVirt's API and configuration, the Nodes, GPU resource names: the preflight before a VM is created. */
  kubevirt: KubeVirtAccess;
  /** The attestation handshake; without it CVMs stop at Attesting. */
  attestation?: AttestationDeps;
  /** Per-CVM guest identity and cloud-init (the sidecar's API access); without it the VM boots unconfigured. */
  guestIdentity?: GuestIdentityApi;
  /** Device resource names for rendering (the NVSwitch's; defaults as NVIDIA's KubeVirt device plugin names it). */
  vmRender?: VmRenderOptions;
  now?: () => Date;
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const RESCHEDULE_MS = 30_000;
const DELETE_POLL_MS = 1_000;
const CDI_RETRY_MS = 60_000;
const KUBEVIRT_RETRY_MS = 30_000;
// A fallback: the KubeVirt watches becoming synced enqueue every ConfidentialVM anyway.
const KUBEVIRT_SYNC_POLL_MS = 10_000;

/** Reconciles one ConfidentialVM (`ns/name`): place it on a validated host, launch its VM, track it. */
export class ConfidentialVMReconciler implements Reconciler {
  readonly name = "confidentialvm";
  readonly #deps: CvmReconcilerDeps;
  readonly #vmObjects: VmObjects;
  readonly #identities: GuestIdentities | undefined;
  /** UIDs of VMs read whole and found launched as wanted but for GPU tags of an older operator. */
  readonly #taggedVms = new Set<string>();
  readonly #preflight: KubeVirtPreflight;

  constructor(deps: CvmReconcilerDeps) {
    this.#deps = deps;
    this.#preflight = new KubeVirtPreflight(deps.kubevirt, (name) => deps.hosts.get(name));
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
    // KubeVirt just appeared: its VM cache is not filled yet, so "no VM" would mean nothing.
    if (this.#preflight.api().state === "syncing") return { requeueAfterMs: KUBEVIRT_SYNC_POLL_MS };
    const vm = deps.vms.get(cvm.metadata.name ?? "", cvm.metadata.namespace ?? "");
    const policy = deps.policies.get(cvm.spec.policyRef);
    if (policy === undefined) {
      await this.#status(cvm, ctx, s.policyMissing(cvm.spec.policyRef, vm !== undefined));
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
      if (!host.ok && vm === undefined) placement = undefined;
      else if (!host.ok) {
        // Attested is the handshake's to withdraw; the lifecycle goes Degraded on the pass its write triggers.
        const withdrew =
          deps.attestation !== undefined &&
          (await withdrawAttested(cvm, r.REASON_HOST_NOT_VALIDATED, host.message, deps.attestation));
        if (!withdrew) await this.#status(cvm, ctx, s.hostLost(host));
        return {};
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
      const compiled = sharedPolicyCompiler.compile(policy);
      if (!compiled.ok) {
        const problems = compiled.errors.map((e) => `${e.path}: ${e.message}`).join("; ");
        await this.#status(cvm, ctx, s.policyInvalid(cvm.spec.policyRef, problems, false));
        return { requeueAfterMs: RESCHEDULE_MS };
      }
      const result = scheduleConfidentialVM({
        cvm,
        cvmKey: key,
        hostRules: compiled.policy.host,
        hosts: deps.hosts.list(),
        nodeLabels: deps.nodeLabels(),
        assignments: deps.ledger.assignments(deps.cvms.list()),
        pending: deps.ledger.pendingGpus(deps.cvms.list(), key),
        kubevirtRefusals: (nodeName) => this.#preflight.nodeRefusals(cvm, nodeName),
      });
      if (!result.scheduled) {
        await this.#status(cvm, ctx, s.noEligibleHost(describeRefusals(result.refusals)));
        return { requeueAfterMs: RESCHEDULE_MS };
      }
      deps.ledger.reserve(key, result.placement);
      const allocation = allocationStatus(
        result.placement,
        observeGpuAllocation(this.#allocationInput(cvm, result.placement, undefined)),
      );
      await this.#status(cvm, ctx, { ...s.placed(result.placement), allocation });
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
    let launch: RenderedLaunch;
    try {
      launch = renderLaunch(cvm, this.#preflight.withResourceNames(placement, vm), this.#deps.vmRender);
    } catch (error) {
      if (!(error instanceof VmBuildError)) throw error;
      await this.#status(cvm, ctx, s.vmInvalid(error.message));
      return {};
    }
    const wanted = { hash: launch.hash, legacyHash: () => legacySpecHash(cvm, placement) };
    const vmi = this.#deps.vmis.get(cvm.metadata.name ?? "", cvm.metadata.namespace ?? "");
    const asWanted = (v: VirtualMachine) =>
      launchedAsWanted(v, wanted) || this.#taggedVms.has(v.metadata?.uid ?? "");
    let state = vmState(vm, vmi, asWanted, placement.nodeName);
    if (
      state.kind === "outdated" &&
      vm !== undefined &&
      (await this.#launchedWithGpuTags(cvm, placement, vm))
    )
      state = vmState(vm, vmi, () => true, placement.nodeName);
    switch (state.kind) {
      case "missing": {
        const readiness = await this.#preflight.readiness(cvm, placement, vm);
        if (!readiness.ready) {
          await this.#status(cvm, ctx, s.kubeVirtNotReady(placement.nodeName, readiness));
          return { requeueAfterMs: KUBEVIRT_RETRY_MS };
        }
        return this.#createVm(cvm, launch.vm, placement, ctx);
      }
      case "outdated":
        return this.#deleteVm(cvm, ctx, "spec changed; relaunching the VM");
      case "deleting":
        return { requeueAfterMs: DELETE_POLL_MS };
      case "running":
        break;
      default: {
        const allocation = allocationStatus(
          placement,
          observeGpuAllocation(this.#allocationInput(cvm, placement, undefined)),
        );
        await this.#status(cvm, ctx, { ...s.ofVm(state, placement.nodeName), allocation });
        return {};
      }
    }
    // The handshake runs on the next pass, against the object this write produced.
    const running = {
      ...s.ofVm(state, placement.nodeName),
      allocation: await this.#observedAllocation(cvm, placement, state.instanceUid),
    };
    if (await this.#status(cvm, ctx, running)) return {};
    if (this.#deps.attestation === undefined) return {};
    const renewAfterMs = await this.#ensureGuestIdentity(cvm);
    const lifecycleFollowUp = (after: ConfidentialVM) => lifecyclePatch(after, running, this.#now());
    const result = await reconcileAttestation(
      cvm,
      policy,
      { ...this.#deps.attestation, lifecycleFollowUp },
      ctx,
    );
    if (renewAfterMs === undefined || result.requeueAfterMs === undefined) return result;
    return { requeueAfterMs: Math.min(result.requeueAfterMs, Math.max(renewAfterMs, 1000)) };
  }

  #allocationInput(cvm: ConfidentialVM, placement: VmPlacement, runningVmiUid: string | undefined) {
    const namespace = cvm.metadata.namespace ?? "";
    return {
      cvmKey: objectKey(cvm),
      namespace,
      placement,
      runningVmiUid,
      host: this.#deps.hosts.get(placement.nodeName),
      launcherPods: this.#deps.launcherPods?.(namespace, runningVmiUid) ?? [],
      gpuOwners: this.#deps.ledger.assignments(this.#deps.cvms.list(), placement.nodeName),
    };
  }

  /**
   * The running VM's GPUs as its host reports them. A newly observed set is decided and reserved under the ledger's
   * lock, so two CVMs never both record one GPU (a host reporting it for both is refused for the second).
   */
  async #observedAllocation(cvm: ConfidentialVM, placement: VmPlacement, instanceUid: string) {
    const decide = () => observeGpuAllocation(this.#allocationInput(cvm, placement, instanceUid));
    const first = decide();
    const recorded = placement.gpus.map((g) => g.pciAddress);
    if (
      first?.state !== "Observed" ||
      JSON.stringify(first.gpus.map((g) => g.pciAddress)) === JSON.stringify(recorded)
    )
      return allocationStatus(placement, first);
    return this.#deps.ledger.exclusive(() => {
      const allocation = decide();
      if (allocation?.state === "Observed")
        this.#deps.ledger.reserve(objectKey(cvm), { nodeName: placement.nodeName, gpus: allocation.gpus });
      return Promise.resolve(allocationStatus(placement, allocation));
    });
  }

  /** Reads the VM whole once per VM to tell a VM of an older operator (GPU tags) from an outdated one. */
  async #launchedWithGpuTags(
    cvm: ConfidentialVM,
    placement: VmPlacement,
    cached: VirtualMachine,
  ): Promise<boolean> {
    const uid = cached.metadata?.uid ?? "";
    const whole = await this.#vmObjects.readVirtualMachine(
      cvm.metadata.namespace ?? "",
      cvm.metadata.name ?? "",
    );
    if (whole === undefined || whole.metadata?.uid !== uid || !launchedWithGpuTags(cvm, placement, whole))
      return false;
    this.#taggedVms.add(uid);
    return true;
  }

  async #createVm(
    cvm: ConfidentialVM,
    vm: VirtualMachine,
    placement: VmPlacement,
    ctx: ReconcileContext,
  ): Promise<ReconcileResult> {
    await this.#ensureGuestIdentity(cvm);
    const ns = cvm.metadata.namespace ?? "";
    if (cvm.spec.image.http !== undefined && !(await this.#vmObjects.ensureDataVolume(cvm))) {
      await this.#status(cvm, ctx, s.cdiMissing());
      return { requeueAfterMs: CDI_RETRY_MS };
    }
    const outcome = await this.#vmObjects.createVirtualMachine(ns, vm);
    if (outcome.kind === "rejected") {
      await this.#status(cvm, ctx, s.vmInvalid(outcome.message));
      return {};
    }
    if (outcome.kind === "created")
      ctx.log.info({ node: placement.nodeName, gpus: placement.gpus.length }, "Created VirtualMachine");
    return {};
  }

  /** Ensures the CVM's guest identity (when configured); returns when its token is due for renewal. */
  async #ensureGuestIdentity(cvm: ConfidentialVM): Promise<number | undefined> {
    return this.#identities?.ensure(cvm, this.#now());
  }

  async #deleteVm(cvm: ConfidentialVM, ctx: ReconcileContext, why: string): Promise<ReconcileResult> {
    await this.#vmObjects.deleteVirtualMachine(cvm.metadata.namespace ?? "", cvm.metadata.name ?? "");
    ctx.log.info({ why }, "Deleted VirtualMachine");
    await this.#status(cvm, ctx, s.relaunching(why));
    return { requeueAfterMs: DELETE_POLL_MS };
  }

  async #finalize(cvm: ConfidentialVM, ctx: ReconcileContext): Promise<ReconcileResult> {
    if (!(cvm.metadata.finalizers ?? []).includes(FINALIZER)) return {};
    if (this.#preflight.api().state === "syncing") return { requeueAfterMs: KUBEVIRT_SYNC_POLL_MS };
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

  #now(): Date {
    return (this.#deps.now ?? (() => new Date()))();
  }

  /** Writes the lifecycle status (with KubeVirtReady) when it changes; records the event when the stage changes. */
  async #status(cvm: ConfidentialVM, ctx: ReconcileContext, update: StatusUpdate): Promise<boolean> {
    if (!update.conditions.some((c) => c.type === r.CONDITION_KUBEVIRT_READY)) {
      const placement = update.placement === null ? undefined : (update.placement ?? recordedPlacement(cvm));
      const launched = this.#deps.vms.get(cvm.metadata.name ?? "", cvm.metadata.namespace ?? "");
      const kubevirt = await this.#preflight.condition(cvm, placement, launched);
      update = { ...update, conditions: [...update.conditions, kubevirt] };
    }
    const phase = await writeStatus(this.#deps.objects, cvm, update, this.#now());
    if (phase === undefined) return false;
    ctx.log.info({ phase }, "Patched ConfidentialVM status");
    // Attesting ↔ Attested is the handshake's news (its own events), not a lifecycle transition.
    if (update.event !== undefined && stageOfPhase(cvm.status?.phase) !== update.lifecycle.stage) {
      const { type, reason, message = update.lifecycle.message } = update.event;
      await this.#deps.events.record(involvedObject(cvm), type, reason, message);
    }
    return true;
  }
}
