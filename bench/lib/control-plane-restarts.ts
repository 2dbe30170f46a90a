// The fault of bench/chaos-control-plane.ts (and its short e2e version): restart kube-apiserver or etcd in place
// at given Attested counts, then time how long after the API server is ready again the controller makes progress.
// The controller exits when it cannot renew its Lease for 10 s (its renew deadline), as controller-runtime's
// managers do; the SupervisedController then restarts it after its backoff, like the kubelet.
import type { ControlPlaneComponent, RestartOptions } from "../../hack/lib/control-plane.ts";
import type { Rollout } from "./chaos-rollout.ts";
import type { RolloutProgress } from "./kill-schedule.ts";

export interface ControlPlaneRestart {
  target: ControlPlaneComponent;
  atRestart: RolloutProgress;
  /** Seconds since the first CVM was created. */
  atSecond: number;
  /** From the old process gone to the new one spawned (--down-ms, plus nothing else). */
  downMs: number;
  /** From the stop signal to kube-apiserver's /readyz answering 200 again. */
  outageMs: number;
  /** Of which: from the stop signal to the old process gone (kube-apiserver drains on SIGTERM; SIGKILL after 10 s). */
  stopMs: number;
  /** Whether the leading controller exited (lost its Lease) because of this restart. */
  controllerExited: boolean;
  /** When it exited, relative to the API server being ready again (negative: before). */
  controllerExitAfterReadyMs?: number;
  /** When its successor held the Lease, relative to ready. */
  newLeaderAfterReadyMs?: number;
  /** From ready to the first controller-written CVM status change by the controller that leads from then on. */
  progressAfterReadyMs?: number;
  /** From ready to the first CVM newly Attested. */
  attestedAfterReadyMs?: number;
}

/** The Attested counts at which to restart each target: evenly spaced, never 0. */
export function restartPoints(targets: number, cvms: number): number[] {
  return Array.from({ length: targets }, (_, i) => Math.max(1, Math.floor((cvms * (i + 1)) / (targets + 1))));
}

export function restartControlPlaneDuringRollout(
  targets: readonly ControlPlaneComponent[],
  options: RestartOptions & {
    /** How long after ready a controller that has not exited counts as having ridden the restart out. */
    exitGraceMs: number;
    timeoutMs: number;
    log?: (line: string) => void;
  },
): (rollout: Rollout) => Promise<ControlPlaneRestart[]> {
  return async (rollout) => {
    const started = Date.now();
    const done: ControlPlaneRestart[] = [];
    const points = restartPoints(targets.length, rollout.cvms);
    for (const [i, target] of targets.entries()) {
      const attestedAtLeast = points[i] ?? rollout.cvms;
      await rollout.controller.leading(options.timeoutMs);
      await rollout.waitFor(
        `${String(attestedAtLeast)} Attested`,
        () => rollout.progress().attested >= attestedAtLeast,
        options.timeoutMs,
      );
      const atRestart = rollout.progress();
      const leader = rollout.controller.current;
      const times = await rollout.cluster.controlPlane.restart(target, {
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.downMs === undefined ? {} : { downMs: options.downMs }),
      });
      // Either the leader exits (then its successor must lead), or it rides the restart out.
      await rollout.waitFor(
        "the controller to exit or keep leading",
        () => leader.exitedAt !== undefined || Date.now() >= times.readyAt + options.exitGraceMs,
        options.exitGraceMs + 5_000,
      );
      const exited = leader.exitedAt !== undefined;
      const next = exited ? await rollout.controller.leading(options.timeoutMs, leader) : leader;
      const leadingFrom = exited ? (next.leadingAt ?? times.readyAt) : times.readyAt;
      await rollout
        .waitFor(
          "a controller write after the restart",
          () =>
            rollout.firstControllerWriteAfter(leadingFrom) !== undefined ||
            rollout.attestedAt.size >= rollout.cvms,
          options.timeoutMs,
        )
        .catch(() => undefined);
      const write = rollout.firstControllerWriteAfter(leadingFrom);
      const restart: ControlPlaneRestart = {
        target,
        atRestart,
        atSecond: Number(((times.signalledAt - started) / 1000).toFixed(1)),
        downMs: times.startedAt - times.stoppedAt,
        outageMs: times.readyAt - times.signalledAt,
        stopMs: times.stoppedAt - times.signalledAt,
        controllerExited: exited,
        ...(exited
          ? {
              controllerExitAfterReadyMs: (leader.exitedAt ?? 0) - times.readyAt,
              newLeaderAfterReadyMs: (next.leadingAt ?? 0) - times.readyAt,
            }
          : {}),
        ...(write === undefined ? {} : { progressAfterReadyMs: leadingFrom + write - times.readyAt }),
      };
      await rollout
        .waitFor(
          "a CVM Attested after the restart",
          () =>
            rollout.firstAttestedAfter(times.readyAt) !== undefined ||
            rollout.attestedAt.size >= rollout.cvms,
          options.timeoutMs,
        )
        .catch(() => undefined);
      const attested = rollout.firstAttestedAfter(times.readyAt);
      if (attested !== undefined) restart.attestedAfterReadyMs = attested;
      done.push(restart);
      options.log?.(
        `${target} restarted at ${String(atRestart.attested)} Attested: ready ${String(restart.outageMs)} ms after the stop signal; ` +
          `controller ${exited ? `exited ${String(restart.controllerExitAfterReadyMs)} ms after ready` : "kept leading"}; ` +
          `progress ${String(restart.progressAfterReadyMs)} ms after ready`,
      );
    }
    return done;
  };
}
