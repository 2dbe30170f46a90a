// The fault of bench/chaos-controller.ts (and its short e2e version): SIGKILL the leading controller at each
// trigger of killTriggers, let the supervisor restart it after its backoff, and time each restart's wait for the
// Lease (a SIGKILLed leader never hands it back: the next one waits for it to expire, 15 s after its last renewal).
import type { Rollout } from "./chaos-rollout.ts";
import { isDue, killTriggers, landedDuring, type RolloutProgress } from "./kill-schedule.ts";

export interface ControllerKill {
  trigger: string;
  landed: "placement" | "attestation";
  atKill: RolloutProgress;
  /** Seconds since the first CVM was created. */
  atSecond: number;
  /** From the SIGKILL to the next run holding the Lease. */
  killToLeadingMs: number;
  /** From the next run's start (after the backoff) to it holding the Lease: the wait for the old Lease. */
  startToLeadingMs: number;
}

export function killControllerDuringRollout(
  kills: number,
  options: { leadTimeoutMs: number; triggerTimeoutMs: number; log?: (line: string) => void },
): (rollout: Rollout) => Promise<ControllerKill[]> {
  return async (rollout) => {
    const started = Date.now();
    const done: ControllerKill[] = [];
    for (const trigger of killTriggers(kills, rollout.cvms)) {
      const name =
        trigger.during === "placement"
          ? `${String(trigger.placedAtLeast)} placed`
          : `${String(trigger.attestedAtLeast)} Attested`;
      await rollout.controller.leading(options.leadTimeoutMs);
      await rollout.waitFor(name, () => isDue(trigger, rollout.progress()), options.triggerTimeoutMs);
      const atKill = rollout.progress();
      const killed = await rollout.controller.kill();
      const next = await rollout.controller.leading(options.leadTimeoutMs, killed);
      const kill: ControllerKill = {
        trigger: name,
        landed: landedDuring(atKill, rollout.cvms),
        atKill,
        atSecond: Number((((killed.killedAt ?? 0) - started) / 1000).toFixed(1)),
        killToLeadingMs: (next.leadingAt ?? 0) - (killed.killedAt ?? 0),
        startToLeadingMs: (next.leadingAt ?? 0) - next.startedAt,
      };
      done.push(kill);
      options.log?.(
        `kill ${String(done.length)} at ${name} (${kill.landed}: ${String(atKill.placed)} placed, ` +
          `${String(atKill.attested)} Attested): next leader after ${String(kill.killToLeadingMs)} ms`,
      );
    }
    return done;
  };
}
