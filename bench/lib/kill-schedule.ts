// When bench/chaos-controller.ts SIGKILLs the controller: the first half of the kills while most CVMs have no
// VirtualMachine yet (placement), the rest spread over attestation. Pure, so the schedule is table-tested.

export type KillTrigger =
  /** Once this many CVMs have a VirtualMachine (status.vmName): placement is under way. */
  | { during: "placement"; placedAtLeast: number }
  /** Once this many CVMs are Attested. */
  | { during: "attestation"; attestedAtLeast: number };

export interface RolloutProgress {
  created: number;
  placed: number;
  attested: number;
}

/**
 * `kills` triggers for a rollout of `cvms`: ceil(kills / 2) while fewer than half of the CVMs are placed (at
 * 1/(2P+2), 2/(2P+2), ... of them, so the first lands early), the others at evenly spaced Attested counts.
 */
export function killTriggers(kills: number, cvms: number): KillTrigger[] {
  if (!Number.isInteger(kills) || kills < 0)
    throw new Error(`kills must be a whole number >= 0, not ${String(kills)}`);
  if (!Number.isInteger(cvms) || cvms < 1)
    throw new Error(`cvms must be a positive whole number, not ${String(cvms)}`);
  const placement = Math.ceil(kills / 2);
  const attestation = kills - placement;
  return [
    ...Array.from({ length: placement }, (_, j) => ({
      during: "placement" as const,
      placedAtLeast: Math.max(1, Math.floor((cvms * (j + 1)) / (2 * placement + 2))),
    })),
    ...Array.from({ length: attestation }, (_, j) => ({
      during: "attestation" as const,
      attestedAtLeast: Math.max(1, Math.floor((cvms * (j + 1)) / (attestation + 1))),
    })),
  ];
}

export function isDue(trigger: KillTrigger, progress: RolloutProgress): boolean {
  return trigger.during === "placement"
    ? progress.placed >= trigger.placedAtLeast
    : progress.attested >= trigger.attestedAtLeast;
}

/** Where a kill really landed: during placement while some created CVM had no VirtualMachine yet. */
export function landedDuring(progress: RolloutProgress, cvms: number): "placement" | "attestation" {
  return progress.placed < cvms ? "placement" : "attestation";
}
