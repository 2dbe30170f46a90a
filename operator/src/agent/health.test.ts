import { expect } from "chai";
import {
  agentLiveness,
  agentReadiness,
  healthLimits,
  MIN_STUCK_AFTER_MS,
  type AgentLoopState,
} from "./health.ts";

const T0 = Date.parse("2026-12-07T06:00:00Z");
const MIN = 60_000;
// The chart's defaults: a 60 s interval, a report rewritten after 10 min when unchanged.
const limits = healthLimits(MIN, 10 * MIN);

describe("agent health", () => {
  it("derives the limits from the interval, with a floor for short intervals", () => {
    expect(limits).to.deep.equal({ stuckAfterMs: 3 * MIN, staleAfterMs: 11 * MIN });
    expect(healthLimits(1000, 10_000).stuckAfterMs).to.equal(MIN_STUCK_AFTER_MS);
  });

  const liveness: [string, AgentLoopState, number, boolean, RegExp][] = [
    ["just started", { startedAtMs: T0 }, T0 + 1000, true, /starting/],
    ["never started a scan", { startedAtMs: T0 }, T0 + 4 * MIN, false, /no scan started in the 240s/],
    ["first scan running", { startedAtMs: T0, cycleStartedAtMs: T0 }, T0 + 2 * MIN, true, /scanning/],
    [
      "a scan hung (e.g. a read of a wedged sysfs file)",
      { startedAtMs: T0, cycleStartedAtMs: T0 + MIN, cycleEndedAtMs: T0 + 30_000 },
      T0 + 5 * MIN,
      false,
      /a scan has been running for 240s/,
    ],
    [
      "between scans",
      { startedAtMs: T0, cycleEndedAtMs: T0 + 10 * MIN },
      T0 + 11 * MIN,
      true,
      /scan loop running/,
    ],
    [
      "the timer never fired again",
      { startedAtMs: T0, cycleEndedAtMs: T0 + MIN },
      T0 + 5 * MIN,
      false,
      /no scan since the last one ended 240s ago/,
    ],
    [
      "API errors but the loop turns (not stuck: a restart would not help)",
      { startedAtMs: T0, cycleEndedAtMs: T0 + 59 * MIN, reportCurrentAtMs: T0 },
      T0 + 60 * MIN,
      true,
      /scan loop running/,
    ],
  ];
  for (const [name, state, now, ok, reason] of liveness) {
    it(`liveness: ${name} -> ${ok ? "live" : "restart"}`, () => {
      const decision = agentLiveness(state, now, limits);
      expect(decision.ok).to.equal(ok);
      expect(decision.reason).to.match(reason);
    });
  }

  const readiness: [string, AgentLoopState, number, boolean, RegExp][] = [
    ["nothing published", { startedAtMs: T0, cycleEndedAtMs: T0 + 1000 }, T0 + 2000, false, /no report/],
    ["published", { startedAtMs: T0, reportCurrentAtMs: T0 + 1000 }, T0 + 2000, true, /published/],
    [
      "confirmed unchanged 10 min ago",
      { startedAtMs: T0, reportCurrentAtMs: T0 },
      T0 + 10 * MIN,
      true,
      /published/,
    ],
    [
      "writes refused for longer than the report may age",
      { startedAtMs: T0, cycleEndedAtMs: T0 + 12 * MIN, reportCurrentAtMs: T0 },
      T0 + 12 * MIN,
      false,
      /last published or confirmed 720s ago/,
    ],
  ];
  for (const [name, state, now, ok, reason] of readiness) {
    it(`readiness: ${name} -> ${ok ? "ready" : "not ready"}`, () => {
      const decision = agentReadiness(state, now, limits);
      expect(decision.ok).to.equal(ok);
      expect(decision.reason).to.match(reason);
    });
  }
});
