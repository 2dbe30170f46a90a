// Chaos (issue 18): restart kube-apiserver and/or etcd in place (same ports, same data) in the middle of a rollout
// of N CVMs x 8 simulated H100s. The controller exits when it cannot renew its Lease within its renew deadline
// (10 s), as controller-runtime does; it is restarted after --restart-backoff-ms (printed; the kubelet's
// CrashLoopBackOff is 10 s, doubling to 5 min, see docs/faults.md). Prints, per restart, the outage, whether the
// controller exited, and how long after the API server was ready again the controller made progress (target
// <= 10 s); then that every CVM converged (none stuck) and the rollout invariants. Exits 1 when one fails.
//   make build && node bench/chaos-control-plane.ts [--cvms 1000] [--target kube-apiserver|etcd|both]
//     [--signal SIGTERM|SIGKILL] [--down-ms 0] [--restart-backoff-ms 1000] [--concurrency 4] [--timeout-s 1800]
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { ControlPlaneComponent } from "../hack/lib/control-plane.ts";
import { type RolloutResult, runChaosRollout } from "./lib/chaos-rollout.ts";
import { type ControlPlaneRestart, restartControlPlaneDuringRollout } from "./lib/control-plane-restarts.ts";
import { invariantFailures } from "./lib/rollout-invariants.ts";

const PROGRESS_TARGET_MS = 10_000;
const { values } = parseArgs({
  options: {
    cvms: { type: "string", default: "1000" },
    target: { type: "string", default: "both" },
    signal: { type: "string", default: "SIGTERM" },
    "down-ms": { type: "string", default: "0" },
    "restart-backoff-ms": { type: "string", default: "1000" },
    concurrency: { type: "string", default: "4" },
    "timeout-s": { type: "string", default: "1800" },
  },
});
function wholeNumber(flag: keyof typeof values, min: number): number {
  const n = Number(values[flag]);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${flag} must be a whole number >= ${String(min)}, not ${values[flag]}`);
  return n;
}
const TARGETS: Record<string, ControlPlaneComponent[]> = {
  "kube-apiserver": ["kube-apiserver"],
  etcd: ["etcd"],
  both: ["kube-apiserver", "etcd"],
};
const targets = TARGETS[values.target];
if (targets === undefined)
  throw new Error(`--target must be kube-apiserver, etcd or both, not ${values.target}`);
const signal = values.signal;
if (signal !== "SIGTERM" && signal !== "SIGKILL")
  throw new Error(`--signal must be SIGTERM or SIGKILL, not ${signal}`);
const CVMS = wholeNumber("cvms", 1);
const BACKOFF_MS = wholeNumber("restart-backoff-ms", 0);
const TIMEOUT_MS = wholeNumber("timeout-s", 1) * 1000;
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const load = (): number[] => loadavg().map((l) => Number(l.toFixed(2)));

const loadBefore = load();
const results: RolloutResult<ControlPlaneRestart[]>[] = [];
// One rollout per target, each on a fresh cluster: a small rollout is over before a second restart could land.
for (const target of targets) {
  log(
    `rollout of ${String(CVMS)} CVMs; restarting ${target} (${signal}) at half of them Attested; the controller is ` +
      `restarted ${String(BACKOFF_MS)} ms after it exits (the kubelet: 10 s, doubling to 5 min)`,
  );
  results.push(
    await runChaosRollout({
      cvms: CVMS,
      concurrency: wholeNumber("concurrency", 1),
      restartBackoffMs: BACKOFF_MS,
      timeoutMs: TIMEOUT_MS,
      fault: restartControlPlaneDuringRollout([target], {
        signal,
        downMs: wholeNumber("down-ms", 0),
        // The controller gives up 10 s after its last renewal; allow for the renewal period and a loaded machine.
        exitGraceMs: 15_000,
        timeoutMs: TIMEOUT_MS,
        log,
      }),
      log,
    }),
  );
}
const failures: string[] = [];
for (const result of results) {
  const target = result.fault[0]?.target ?? "?";
  failures.push(...invariantFailures(result.invariants).map((f) => `${target}: ${f}`));
  if (result.doubleAssignedDuringRun.length > 0)
    failures.push(
      `${target}: GPUs double-assigned during the run: ${result.doubleAssignedDuringRun.slice(0, 5).join("; ")}`,
    );
  for (const restart of result.fault) {
    if (restart.progressAfterReadyMs === undefined || restart.progressAfterReadyMs > PROGRESS_TARGET_MS)
      failures.push(
        `${target}: progress ${String(restart.progressAfterReadyMs ?? "never")} ms after ready (target <= ${String(PROGRESS_TARGET_MS)} ms)`,
      );
  }
}
const report = {
  cvms: CVMS,
  gpusPerCvm: 8,
  signal,
  restartBackoffMs: BACKOFF_MS,
  rollouts: results.map((result) => ({
    secondsToAllAttested: Number(result.seconds.toFixed(1)),
    restarts: result.fault,
    invariants: {
      notConverged: result.invariants.notConverged.length,
      duplicateVms: result.invariants.duplicateVms.length,
      orphans: result.invariants.orphans.length,
      doubleAssignedGpus: result.invariants.doubleAssignedGpus.length,
      doubleAssignedDuringRun: result.doubleAssignedDuringRun.length,
    },
    // Answers that failed while the API server was away, each retried a second later (not an invariant here).
    guestAnswerRetries: result.guestAnswerFailures,
    controllerRuns: result.controllerRuns.map((run) => ({
      run: run.index,
      exit: run.exit ?? "running at the end",
    })),
  })),
  failures,
  loadAverage: { before: loadBefore, after: load() },
};
console.log(JSON.stringify(report, null, 2));
const ms = (n: number | undefined): string => (n === undefined ? "never" : `${(n / 1000).toFixed(1)} s`);
console.log(
  [
    `${String(CVMS)} CVMs x 8 GPUs, restarted with ${signal}, controller restart backoff ${String(BACKOFF_MS)} ms:`,
    ...results.flatMap((result) =>
      result.fault.map(
        (r) =>
          `  ${r.target} at ${r.atSecond.toFixed(1)} s (${String(r.atRestart.attested)} Attested): API ready ${ms(r.outageMs)} after the stop signal (${ms(r.stopMs)} to stop); ` +
          (r.controllerExited
            ? `controller exited ${ms(r.controllerExitAfterReadyMs)} after ready (lost Lease), successor led ${ms(r.newLeaderAfterReadyMs)} after ready; `
            : "controller kept its Lease; ") +
          `progress ${ms(r.progressAfterReadyMs)} after ready (target <= 10 s), first Attested ${ms(r.attestedAfterReadyMs)} after ready; ` +
          `all Attested after ${result.seconds.toFixed(1)} s`,
      ),
    ),
    `  invariants: ${failures.length === 0 ? "all hold (every CVM converged)" : failures.join(" | ")}`,
    `  load average ${report.loadAverage.before.join(", ")} before, ${report.loadAverage.after.join(", ")} after`,
  ].join("\n"),
);
process.exitCode = failures.length === 0 ? 0 : 1;
