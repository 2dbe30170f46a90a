import { isDeepStrictEqual } from "node:util";
import type { Condition, ConfidentialVMStatus } from "../../api/v1alpha1/generated/types.ts";
import { TerminalError } from "../../runtime/controller.ts";
import * as r from "../../api/v1alpha1/confidential-vm-conditions.ts";

/** Who writes a ConfidentialVM's status: the lifecycle reconciler, the attestation handshake, the guest. */
export type StatusWriter = "lifecycle" | "handshake" | "guest";

type StatusField = keyof ConfidentialVMStatus;

/** One owner per status field; `conditions` is owned per condition type (below). */
export const FIELD_OWNERS: Readonly<Record<Exclude<StatusField, "conditions">, StatusWriter>> = {
  phase: "lifecycle",
  message: "lifecycle",
  observedGeneration: "lifecycle",
  nodeName: "lifecycle",
  vmName: "lifecycle",
  gpus: "lifecycle",
  nvswitches: "lifecycle",
  gpuAllocation: "lifecycle",
  vmInstanceUid: "lifecycle",
  challenge: "handshake",
  attestation: "handshake",
  releasedSecrets: "handshake",
  evidence: "guest",
};

export const CONDITION_OWNERS: Readonly<Record<string, StatusWriter>> = {
  [r.CONDITION_HOST_VALIDATED]: "lifecycle",
  [r.CONDITION_DEPLOYED]: "lifecycle",
  [r.CONDITION_READY]: "lifecycle",
  [r.CONDITION_KUBEVIRT_READY]: "lifecycle",
  [r.CONDITION_ATTESTED]: "handshake",
  [r.CONDITION_TCB_DRIFT_SOON]: "handshake",
};

/** A writer tried to change a field it does not own: a bug that retrying cannot fix. */
export class StatusOwnershipError extends TerminalError {}

function conditionsChangedBy(before: readonly Condition[], after: readonly Condition[]): string[] {
  const types = new Set([...before, ...after].map((c) => c.type));
  return [...types].filter(
    (type) =>
      !isDeepStrictEqual(
        before.find((c) => c.type === type),
        after.find((c) => c.type === type),
      ),
  );
}

/**
 * The merge patch that takes `current` to `next` for `writer`: only fields that change (null clears one).
 * Throws StatusOwnershipError when it would change a field or condition type that `writer` does not own.
 */
export function ownedStatusPatch(
  writer: StatusWriter,
  current: ConfidentialVMStatus,
  next: Partial<Record<StatusField, unknown>>,
): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(next) as [StatusField, unknown][]) {
    if (value === undefined || isDeepStrictEqual(value, current[field] ?? null)) continue;
    if (field === "conditions") {
      const changed = conditionsChangedBy(current.conditions ?? [], value as Condition[]);
      const foreign = changed.filter((type) => CONDITION_OWNERS[type] !== writer);
      if (foreign.length > 0)
        throw new StatusOwnershipError(`${writer} may not write condition(s) ${foreign.join(", ")}`);
    } else if (FIELD_OWNERS[field] !== writer) {
      throw new StatusOwnershipError(`${writer} may not write status.${field}`);
    }
    patch[field] = value;
  }
  return patch;
}

/** The status as the API server stores it after a merge patch of top-level fields (null removes one). */
export function statusAfterPatch(
  current: ConfidentialVMStatus,
  patch: Record<string, unknown>,
): ConfidentialVMStatus {
  const merged: Record<string, unknown> = { ...current, ...patch };
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== null));
}
