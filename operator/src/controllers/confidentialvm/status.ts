import { type CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import type { ConfidentialVM, ConfidentialVMStatus } from "../../api/v1alpha1/generated/types.ts";
import { CONFIDENTIAL_VM, GROUP, VERSION } from "../../api/v1alpha1/generated/types.ts";
import type { VmPlacement } from "../../kubevirt/virtual-machine.ts";
import { type DesiredCondition, setCondition } from "../../runtime/conditions.ts";

export interface StatusUpdate {
  phase: NonNullable<ConfidentialVMStatus["phase"]>;
  message: string;
  conditions: DesiredCondition[];
  /** A placement to record, null to clear it, undefined to keep what is there. */
  placement?: VmPlacement | null;
  /** Event to record when the phase changes. */
  event?: { type: "Normal" | "Warning"; reason: string };
}

type ControllerOwnedStatus = Pick<
  ConfidentialVMStatus,
  "phase" | "message" | "nodeName" | "vmName" | "gpus" | "conditions" | "observedGeneration"
>;

/** The controller-owned part of the status after applying `update`. */
export function nextStatus(cvm: ConfidentialVM, update: StatusUpdate, now: Date): ControllerOwnedStatus {
  const current = cvm.status ?? {};
  let conditions = current.conditions ?? [];
  for (const desired of update.conditions)
    conditions = setCondition(conditions, desired, cvm.metadata.generation, now);
  const next: ControllerOwnedStatus = {
    phase: update.phase,
    message: update.message,
    conditions,
    ...(cvm.metadata.generation === undefined ? {} : { observedGeneration: cvm.metadata.generation }),
  };
  if (update.placement === undefined) {
    if (current.nodeName !== undefined) next.nodeName = current.nodeName;
    if (current.vmName !== undefined) next.vmName = current.vmName;
    if (current.gpus !== undefined) next.gpus = current.gpus;
  } else if (update.placement !== null) {
    next.nodeName = update.placement.nodeName;
    next.vmName = cvm.metadata.name ?? "";
    next.gpus = update.placement.gpus.map((g) => ({ pciAddress: g.pciAddress, model: g.model }));
  }
  return next;
}

function currentOwned(cvm: ConfidentialVM): ControllerOwnedStatus {
  const { phase, message, nodeName, vmName, gpus, conditions, observedGeneration } = cvm.status ?? {};
  const owned: ControllerOwnedStatus = {};
  for (const [k, v] of Object.entries({
    phase,
    message,
    nodeName,
    vmName,
    gpus,
    conditions,
    observedGeneration,
  })) {
    if (v !== undefined) (owned as Record<string, unknown>)[k] = v;
  }
  return owned;
}

/** Patches the ConfidentialVM's status only when the controller-owned part changes; says whether it wrote. */
export async function writeStatus(
  objects: CustomObjectsApi,
  cvm: ConfidentialVM,
  update: StatusUpdate,
  now: Date,
): Promise<boolean> {
  const next = nextStatus(cvm, update, now);
  if (isDeepStrictEqual(next, currentOwned(cvm))) return false;
  const patch: Record<string, unknown> = { ...next };
  if (update.placement === null) Object.assign(patch, { nodeName: null, vmName: null, gpus: null });
  await objects.patchNamespacedCustomObjectStatus(
    {
      group: GROUP,
      version: VERSION,
      plural: CONFIDENTIAL_VM.plural,
      namespace: cvm.metadata.namespace ?? "",
      name: cvm.metadata.name ?? "",
      // resourceVersion makes the patch fail (409, retried) instead of overwriting a concurrent writer's conditions.
      body: { metadata: { resourceVersion: cvm.metadata.resourceVersion }, status: patch },
    },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
  return true;
}
