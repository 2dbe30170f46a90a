import type { Condition } from "../api/v1alpha1/generated/types.ts";

export type ConditionStatus = Condition["status"];

export interface DesiredCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * Returns the conditions with `desired` set: observedGeneration stamped, lastTransitionTime kept unless
 * the status flips (cert-manager's SetCertificateCondition). The input is not modified.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  desired: DesiredCondition,
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  const current = conditions ?? [];
  const previous = current.find((c) => c.type === desired.type);
  const next: Condition = {
    ...desired,
    lastTransitionTime:
      previous !== undefined && previous.status === desired.status
        ? previous.lastTransitionTime
        : rfc3339(now),
    ...(observedGeneration === undefined ? {} : { observedGeneration }),
  };
  return previous === undefined
    ? [...current, next]
    : current.map((c) => (c.type === desired.type ? next : c));
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "True";
}

/** Kubernetes timestamps have second precision. */
export function rfc3339(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
