import { V1MicroTime, type V1LeaseSpec } from "@kubernetes/client-node";

/**
 * What a candidate does with the Lease it just read (client-go leaderelection): create it when it does
 * not exist, take it over when it is free or expired, renew it when it holds it, else wait.
 */
export type LeaseDecision =
  | { action: "create" }
  | { action: "acquire" }
  | { action: "renew" }
  | { action: "wait"; holder: string; expiresAt: Date };

export function decideLeaseAction(
  spec: V1LeaseSpec | undefined,
  exists: boolean,
  identity: string,
  now: Date,
): LeaseDecision {
  if (!exists) return { action: "create" };
  const holder = spec?.holderIdentity ?? "";
  if (holder === identity) return { action: "renew" };
  if (holder === "") return { action: "acquire" };
  const expiresAt = leaseExpiry(spec);
  if (expiresAt === undefined || expiresAt.getTime() < now.getTime()) return { action: "acquire" };
  return { action: "wait", holder, expiresAt };
}

/** renewTime + leaseDurationSeconds; undefined when either is missing (such a Lease counts as expired). */
export function leaseExpiry(spec: V1LeaseSpec | undefined): Date | undefined {
  const renewed = toDate(spec?.renewTime);
  const seconds = spec?.leaseDurationSeconds;
  if (renewed === undefined || seconds === undefined) return undefined;
  return new Date(renewed.getTime() + seconds * 1000);
}

/** The spec to write for `create`, `acquire` or `renew`. */
export function claimedLeaseSpec(
  current: V1LeaseSpec | undefined,
  identity: string,
  leaseDurationSeconds: number,
  now: Date,
): V1LeaseSpec {
  const holderChanges = current?.holderIdentity !== identity;
  const transitions = current?.leaseTransitions ?? 0;
  return withUnownedFields(current, {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: holderChanges || current.acquireTime === undefined ? microTime(now) : current.acquireTime,
    renewTime: microTime(now),
    leaseTransitions: current === undefined ? 0 : holderChanges ? transitions + 1 : transitions,
  });
}

/** A Lease given up on shutdown: no holder, so the next candidate takes it at its next retry. */
export function releasedLeaseSpec(current: V1LeaseSpec | undefined, now: Date): V1LeaseSpec {
  return withUnownedFields(current, {
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTime: microTime(now),
    renewTime: microTime(now),
    leaseTransitions: current?.leaseTransitions ?? 0,
  });
}

/** Keeps the coordinated-leader-election fields, which other writers own. */
function withUnownedFields(current: V1LeaseSpec | undefined, spec: V1LeaseSpec): V1LeaseSpec {
  if (current?.preferredHolder !== undefined) spec.preferredHolder = current.preferredHolder;
  if (current?.strategy !== undefined) spec.strategy = current.strategy;
  return spec;
}

// MicroTime serialises with six fractional digits, which the API server requires for these fields.
function microTime(date: Date): V1MicroTime {
  return new V1MicroTime(date.getTime());
}

// client-node types MicroTime fields as dates but hands back the JSON strings unparsed.
function toDate(value: Date | string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
