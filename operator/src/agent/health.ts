/**
 * The agent's /healthz and /readyz decisions (pure). Liveness asks "is the scan loop still turning?": a loop whose
 * cycle has run, or not started, for longer than stuckAfterMs gets the container restarted within minutes instead
 * of being noticed when the controller finds its report stale. An API server that refuses writes is not a stuck
 * loop (a restart would not help); it makes the agent not ready once its last published report is too old.
 *
 * Trust: these answers are the host's own (its owner controls the process); the controller trusts none of them and
 * judges the signed report and its age itself. They serve operations, not security.
 */

/** What the loop records about itself (milliseconds since the epoch). */
export interface AgentLoopState {
  startedAtMs: number;
  /** Start of the cycle now running, if one is. */
  cycleStartedAtMs?: number;
  /** End of the last cycle, successful or not. */
  cycleEndedAtMs?: number;
  /** When a cycle last left the ConfidentialHost holding the current report (written, or found unchanged). */
  reportCurrentAtMs?: number;
}

export interface HealthLimits {
  /** Not live when no cycle ended within this long (or the one running has run this long). */
  stuckAfterMs: number;
  /** Not ready when the report was last confirmed current longer ago than this. */
  staleAfterMs: number;
}

export interface HealthDecision {
  ok: boolean;
  /** Why, for the probe's body and the log. */
  reason: string;
}

/** Cycles are at most one interval apart (failures back off to at most the interval): 3 missed ones is stuck. */
export const STUCK_AFTER_INTERVALS = 3;
/** A floor for short intervals, so a slow scan of a large host (sysfs, PodResources) is not taken for stuck. */
export const MIN_STUCK_AFTER_MS = 60_000;

export function healthLimits(intervalMs: number, maxReportAgeMs: number): HealthLimits {
  return {
    stuckAfterMs: Math.max(STUCK_AFTER_INTERVALS * intervalMs, MIN_STUCK_AFTER_MS),
    staleAfterMs: maxReportAgeMs + intervalMs,
  };
}

function seconds(ms: number): string {
  return `${String(Math.round(ms / 1000))}s`;
}

export function agentLiveness(state: AgentLoopState, nowMs: number, limits: HealthLimits): HealthDecision {
  if (state.cycleStartedAtMs !== undefined) {
    const running = nowMs - state.cycleStartedAtMs;
    if (running > limits.stuckAfterMs)
      return { ok: false, reason: `a scan has been running for ${seconds(running)}` };
    return { ok: true, reason: "scanning" };
  }
  if (state.cycleEndedAtMs === undefined) {
    const waited = nowMs - state.startedAtMs;
    if (waited > limits.stuckAfterMs)
      return { ok: false, reason: `no scan started in the ${seconds(waited)} since start` };
    return { ok: true, reason: "starting" };
  }
  const idle = nowMs - state.cycleEndedAtMs;
  if (idle > limits.stuckAfterMs)
    return { ok: false, reason: `no scan since the last one ended ${seconds(idle)} ago` };
  return { ok: true, reason: "scan loop running" };
}

export function agentReadiness(state: AgentLoopState, nowMs: number, limits: HealthLimits): HealthDecision {
  if (state.reportCurrentAtMs === undefined) return { ok: false, reason: "no report published yet" };
  const age = nowMs - state.reportCurrentAtMs;
  if (age > limits.staleAfterMs)
    return { ok: false, reason: `the report was last published or confirmed ${seconds(age)} ago` };
  return { ok: true, reason: "report published" };
}
