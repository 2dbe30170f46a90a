// Chaos (issue 18): SIGKILL the controller K times during a rollout of N CVMs x 8 simulated H100s, the first
// half of the kills while most CVMs have no VirtualMachine yet (placement), the rest during attestation; restart
// it each time after a backoff (as the kubelet would). Prints the time to all Attested, the extra time against an
// unfaulted rollout of the same size (run first on its own cluster, unless --baseline-seconds), each restart's wait
// for the Lease, and the invariants: every CVM converges, no duplicate VMs, no orphaned VMs/Secrets/ServiceAccounts/
// Roles/RoleBindings, no GPU double-assigned, no guest failure. Exits 1 when an invariant fails.
//   make build && node bench/chaos-controller.ts [--cvms 1000] [--kills 5] [--restart-backoff-ms 1000]
//     [--baseline-seconds S] [--concurrency 4] [--timeout-s 1800]
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { type RolloutResult, runChaosRollout } from "./lib/chaos-rollout.ts";
import { type ControllerKill, killControllerDuringRollout } from "./lib/controller-kills.ts";
import { invariantFailures } from "./lib/rollout-invariants.ts";

const { values } = parseArgs({
  options: {
    cvms: { type: "string", default: "1000" },
    kills: { type: "string", default: "5" },
    "restart-backoff-ms": { type: "string", default: "1000" },
    "baseline-seconds": { type: "string" },
    concurrency: { type: "string", default: "4" },
    "timeout-s": { type: "string", default: "1800" },
  },
});
function wholeNumber(flag: keyof typeof values, min: number): number {
  const n = Number(values[flag]);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${flag} must be a whole number >= ${String(min)}, not ${String(values[flag])}`);
  return n;
}
const CVMS = wholeNumber("cvms", 1);
const KILLS = wholeNumber("kills", 0);
const BACKOFF_MS = wholeNumber("restart-backoff-ms", 0);
const CONCURRENCY = wholeNumber("concurrency", 1);
const TIMEOUT_MS = wholeNumber("timeout-s", 1) * 1000;
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const load = (): number[] => loadavg().map((l) => Number(l.toFixed(2)));

async function rollout(kills: number): Promise<RolloutResult<ControllerKill[]>> {
  log(`rollout of ${String(CVMS)} CVMs with ${String(kills)} controller SIGKILLs`);
  return runChaosRollout({
    cvms: CVMS,
    concurrency: CONCURRENCY,
    restartBackoffMs: BACKOFF_MS,
    timeoutMs: TIMEOUT_MS,
    fault: killControllerDuringRollout(kills, { leadTimeoutMs: 120_000, triggerTimeoutMs: TIMEOUT_MS, log }),
    log,
  });
}

const loadBefore = load();
let baselineSeconds: number;
let baselineMeasured = false;
if (values["baseline-seconds"] === undefined) {
  const baseline = await rollout(0);
  if (baseline.attested < CVMS)
    throw new Error(
      `the unfaulted rollout did not converge: ${String(baseline.attested)}/${String(CVMS)} Attested`,
    );
  baselineSeconds = baseline.seconds;
  baselineMeasured = true;
} else {
  baselineSeconds = Number(values["baseline-seconds"]);
  if (!(baselineSeconds > 0))
    throw new Error(`--baseline-seconds must be a positive number, not ${values["baseline-seconds"]}`);
}
const faulted = await rollout(KILLS);
const failures = invariantFailures(faulted.invariants);
if (faulted.doubleAssignedDuringRun.length > 0)
  failures.push(
    `GPUs double-assigned during the run: ${faulted.doubleAssignedDuringRun.slice(0, 5).join("; ")}`,
  );
if (faulted.guestAnswerFailures > 0)
  failures.push(
    `${String(faulted.guestAnswerFailures)} guest failures: ${faulted.guestFailureMessages.join("; ")}`,
  );
const kills = faulted.fault;
const report = {
  cvms: CVMS,
  gpusPerCvm: 8,
  kills: kills.length,
  killsDuringPlacement: kills.filter((k) => k.landed === "placement").length,
  restartBackoffMs: BACKOFF_MS,
  secondsToAllAttested: Number(faulted.seconds.toFixed(1)),
  baselineSeconds: Number(baselineSeconds.toFixed(1)),
  baseline: baselineMeasured ? "measured now, unfaulted, same size" : "--baseline-seconds",
  extraSeconds: Number((faulted.seconds - baselineSeconds).toFixed(1)),
  restarts: kills,
  leaseWaitMs: {
    min: Math.min(...kills.map((k) => k.startToLeadingMs)),
    max: Math.max(...kills.map((k) => k.startToLeadingMs)),
  },
  invariants: {
    notConverged: faulted.invariants.notConverged.length,
    duplicateVms: faulted.invariants.duplicateVms.length,
    orphans: faulted.invariants.orphans.length,
    doubleAssignedGpus: faulted.invariants.doubleAssignedGpus.length,
    doubleAssignedDuringRun: faulted.doubleAssignedDuringRun.length,
    guestFailures: faulted.guestAnswerFailures,
  },
  gpusInStatus: faulted.gpusInStatus,
  failures,
  loadAverage: { before: loadBefore, after: load() },
};
console.log(JSON.stringify(report, null, 2));
console.log(
  [
    `${String(CVMS)} CVMs x 8 GPUs, ${String(kills.length)} controller SIGKILLs (${String(report.killsDuringPlacement)} during placement), restart backoff ${String(BACKOFF_MS)} ms:`,
    `  all Attested after ${report.secondsToAllAttested.toFixed(1)} s, unfaulted ${report.baselineSeconds.toFixed(1)} s: +${report.extraSeconds.toFixed(1)} s`,
    ...kills.map(
      (k, i) =>
        `  kill ${String(i + 1)} at ${k.atSecond.toFixed(1)} s (${k.landed}, ${String(k.atKill.placed)} placed, ${String(k.atKill.attested)} Attested): leader again ${(k.killToLeadingMs / 1000).toFixed(1)} s after the kill, ${(k.startToLeadingMs / 1000).toFixed(1)} s after the restart (Lease wait)`,
    ),
    `  invariants: ${failures.length === 0 ? "all hold" : failures.join(" | ")}`,
    `  load average ${report.loadAverage.before.join(", ")} before, ${report.loadAverage.after.join(", ")} after`,
  ].join("\n"),
);
process.exitCode = failures.length === 0 ? 0 : 1;
