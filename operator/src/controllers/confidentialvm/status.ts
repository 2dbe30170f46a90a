import { type CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type {
  ConfidentialVM,
  ConfidentialVMStatus,
  ConfidentialVMStatusGpuAllocation,
} from "../../api/v1alpha1/generated/types.ts";
import { CONFIDENTIAL_VM, GROUP, VERSION } from "../../api/v1alpha1/generated/types.ts";
import type { VmPlacement } from "../../kubevirt/virtual-machine.ts";
import { type DesiredCondition, findCondition, setCondition } from "../../runtime/conditions.ts";
import { deriveReadiness, type Lifecycle } from "./readiness.ts";
import { CONDITION_ATTESTED } from "../../api/v1alpha1/confidential-vm-conditions.ts";
import { ownedStatusPatch } from "./status-ownership.ts";

export interface StatusUpdate {
  lifecycle: Lifecycle;
  /** HostValidated and Deployed; Ready is derived (deriveReadiness), Attested is the handshake's. */
  conditions: DesiredCondition[];
  /** A placement to record, null to clear it, undefined to keep what is there. */
  placement?: VmPlacement | null;
  /** status.gpus and status.gpuAllocation (gpu-allocation.ts); undefined keeps them. */
  allocation?: { gpus: VmPlacement["gpus"]; gpuAllocation: ConfidentialVMStatusGpuAllocation | undefined };
  /** UID of the running VMI (only while running); every other update clears it. */
  instanceUid?: string;
  /** Event to record when the phase changes. */
  event?: { type: "Normal" | "Warning"; reason: string; message?: string };
}

type LifecycleStatus = Pick<
  ConfidentialVMStatus,
  | "phase"
  | "message"
  | "nodeName"
  | "vmName"
  | "gpus"
  | "nvswitches"
  | "gpuAllocation"
  | "conditions"
  | "observedGeneration"
  | "vmInstanceUid"
>;

function statusGpus(gpus: VmPlacement["gpus"]): NonNullable<ConfidentialVMStatus["gpus"]> {
  return gpus.map((g) => ({
    ...(g.pciAddress === undefined ? {} : { pciAddress: g.pciAddress }),
    model: g.model,
  }));
}

/** The lifecycle-owned part of the status after applying `update` (null clears a field). */
export function nextStatus(
  cvm: ConfidentialVM,
  update: StatusUpdate,
  now: Date,
): { [K in keyof LifecycleStatus]: LifecycleStatus[K] | null } {
  const current = cvm.status ?? {};
  const readiness = deriveReadiness(
    update.lifecycle,
    findCondition(current.conditions, CONDITION_ATTESTED),
    current.attestation?.expiresAt,
    now,
  );
  let conditions = current.conditions ?? [];
  for (const desired of [...update.conditions, readiness.ready])
    conditions = setCondition(conditions, desired, cvm.metadata.generation, now);
  const placement =
    update.placement === undefined
      ? {}
      : update.placement === null
        ? { nodeName: null, vmName: null, gpus: null, nvswitches: null, gpuAllocation: null }
        : {
            nodeName: update.placement.nodeName,
            vmName: cvm.metadata.name ?? "",
            gpus: statusGpus(update.placement.gpus),
            nvswitches:
              (update.placement.nvswitches ?? []).length === 0
                ? null
                : (update.placement.nvswitches ?? []).map((s) => ({ pciAddress: s.pciAddress })),
          };
  const allocation =
    update.allocation === undefined
      ? {}
      : { gpus: statusGpus(update.allocation.gpus), gpuAllocation: update.allocation.gpuAllocation ?? null };
  return {
    phase: readiness.phase,
    message: update.lifecycle.message,
    conditions,
    vmInstanceUid: update.instanceUid === undefined || update.instanceUid === "" ? null : update.instanceUid,
    ...(cvm.metadata.generation === undefined ? {} : { observedGeneration: cvm.metadata.generation }),
    ...placement,
    ...allocation,
  };
}

/** The lifecycle's merge patch for `cvm` (only what changes); throws if it would touch another writer's field. */
export function lifecyclePatch(
  cvm: ConfidentialVM,
  update: StatusUpdate,
  now: Date,
): Record<string, unknown> {
  return ownedStatusPatch("lifecycle", cvm.status ?? {}, nextStatus(cvm, update, now));
}

/** Patches the lifecycle-owned part of the status when it changes; returns the phase written, if it wrote. */
export async function writeStatus(
  objects: CustomObjectsApi,
  cvm: ConfidentialVM,
  update: StatusUpdate,
  now: Date,
): Promise<ConfidentialVMStatus["phase"] | undefined> {
  const patch = lifecyclePatch(cvm, update, now);
  if (Object.keys(patch).length === 0) return undefined;
  await objects.patchNamespacedCustomObjectStatus(
    {
      group: GROUP,
      version: VERSION,
      plural: CONFIDENTIAL_VM.plural,
      namespace: cvm.metadata.namespace ?? "",
      name: cvm.metadata.name ?? "",
      // resourceVersion makes the patch fail (409, retried) instead of overwriting the handshake's conditions.
      body: { metadata: { resourceVersion: cvm.metadata.resourceVersion }, status: patch },
    },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
  return (patch["phase"] as ConfidentialVMStatus["phase"]) ?? cvm.status?.phase;
}
