/**
 * Agent chaos (issue 18): the built controller and N built node agents (fixture host roots) on a local control
 * plane; K times, SIGKILL one agent (round-robin): its ConfidentialHost must go Validated=False/ReportStale after
 * the controller's --host-stale-after (measured from its last report), its Node label validated=false, and both
 * come back when the agent is restarted; the other hosts must stay Validated.
 *   make build && node bench/chaos-agent.ts [--agents 3] [--kills 3] [--stale-after-s 10]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { waitUntil } from "../operator/test/support/apply.ts";
import { writeServiceAccountKubeconfig } from "../operator/test/support/identities.ts";
import { startFixtureAgent, SYSTEM_NS } from "../operator/test/support/install.ts";
import { OFFLINE_COLLATERAL } from "../operator/test/support/trustgate-process.ts";
import { startBenchCluster, startBuiltTrustgate } from "./attest-harness.ts";
import { type AgentKillRound, type ChaosAgent, hostState, killAgentUntilStale } from "./lib/agent-chaos.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "3" },
    kills: { type: "string", default: "3" },
    "stale-after-s": { type: "string", default: "10" },
  },
});
const agentCount = Number(values.agents);
const kills = Number(values.kills);
const staleAfterS = Number(values["stale-after-s"]);
if (
  ![agentCount, kills, staleAfterS].every((n) => Number.isInteger(n) && n >= 1) ||
  agentCount < 2 ||
  staleAfterS < 3
) {
  console.error("chaos-agent: --agents ≥ 2, --kills ≥ 1 and --stale-after-s ≥ 3 (integers)");
  process.exit(2);
}
const FIXTURES = ["tdx-8xh100", "snp-genoa-4xh100"];
// An unchanged report is rewritten this often, well inside the staleness time (the chart: 10 × interval vs 5m).
const MAX_REPORT_AGE_S = Math.max(1, Math.floor(staleAfterS / 4));

const cluster = await startBenchCluster();
const rounds: AgentKillRound[] = [];
const agents: ChaosAgent[] = [];
try {
  const spawn = (name: string, args: string[]) => startBuiltTrustgate(cluster, name, args);
  const controllerKc = await writeServiceAccountKubeconfig(
    cluster.kc,
    SYSTEM_NS,
    "trustgate-controller",
    cluster.dir,
  );
  const controller = spawn("controller", [
    ...["controller", ...OFFLINE_COLLATERAL, "--kubeconfig", controllerKc, "--metrics-bind-address", "0"],
    ...["--host-stale-after", `${String(staleAfterS)}s`],
  ]);
  for (let i = 0; i < agentCount; i++) {
    const host = { node: `chaos-host-${String(i)}`, fixture: FIXTURES[i % FIXTURES.length] ?? "tdx-8xh100" };
    const agent = await startFixtureAgent(cluster.kc, host, cluster.dir, "1s", false, {
      spawn,
      extraArgs: ["--max-report-age", `${String(MAX_REPORT_AGE_S)}s`],
    });
    agents.push({ node: host.node, process: agent.process, respawn: agent.respawn });
  }
  for (const { node } of agents)
    await waitUntil(
      `${node} Validated and labelled`,
      async () => {
        const state = await hostState(cluster.kc, node);
        return state.validated === "True" && state.label === "true";
      },
      60_000,
    );
  for (let round = 1; round <= kills; round++) {
    const victim = agents[(round - 1) % agents.length];
    if (victim === undefined) break;
    const others = agents.filter((a) => a !== victim).map((a) => a.node);
    const result = await killAgentUntilStale(cluster.kc, victim, others, {
      round,
      staleAfterMs: staleAfterS * 1000,
    });
    rounds.push(result);
    console.error(`  kill ${String(round)}: ${JSON.stringify(result)}`);
  }
  await Promise.all([controller, ...agents.map((a) => a.process)].map((p) => p.stop()));
} finally {
  await cluster.stop();
}

const stat = (key: keyof AgentKillRound) => {
  const xs = rounds.map((r) => Number(r[key])).sort((a, b) => a - b);
  return { p50: xs[Math.floor((xs.length - 1) / 2)] ?? 0, min: xs[0] ?? 0, max: xs[xs.length - 1] ?? 0 };
};
const staleAfterMs = staleAfterS * 1000;
const summary = {
  bench: "chaos-agent",
  date: new Date().toISOString(),
  loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  agents: agentCount,
  kills,
  configured: {
    hostStaleAfterMs: staleAfterMs,
    agentIntervalMs: 1000,
    maxReportAgeMs: MAX_REPORT_AGE_S * 1000,
  },
  staleAfterLastReportMs: stat("staleAfterLastReportMs"),
  killToStaleMs: stat("staleMs"),
  killToLabelFalseMs: stat("labelFalseMs"),
  restartToValidatedMs: stat("recoveredMs"),
  restartToLabelBackMs: stat("labelBackMs"),
  othersDisturbed: rounds.reduce((n, r) => n + r.othersDisturbed, 0),
  rounds,
};
// Stale no sooner than configured (observedAt has whole seconds: 1 s slack), and not long after it.
const met =
  summary.staleAfterLastReportMs.min >= staleAfterMs - 1000 &&
  summary.staleAfterLastReportMs.max <= staleAfterMs + 5000 &&
  summary.othersDisturbed === 0;
console.log(JSON.stringify(summary, null, 2));
console.log(
  [
    `chaos-agent: ${String(kills)} SIGKILLs among ${String(agentCount)} built agents, --host-stale-after ${String(staleAfterS)}s, load ${summary.loadAverage.join(" ")}`,
    `  ReportStale ${String(summary.staleAfterLastReportMs.p50)} ms after the last report (p50; ${String(summary.staleAfterLastReportMs.min)}–${String(summary.staleAfterLastReportMs.max)}), ${String(summary.killToStaleMs.p50)} ms after the kill; Node label false ${String(summary.killToLabelFalseMs.p50)} ms after the kill`,
    `  restart → Validated ${String(summary.restartToValidatedMs.p50)} ms (max ${String(summary.restartToValidatedMs.max)}), label back ${String(summary.restartToLabelBackMs.p50)} ms (max ${String(summary.restartToLabelBackMs.max)}); other hosts disturbed: ${String(summary.othersDisturbed)}`,
    met ? "  met" : "  NOT MET",
  ].join("\n"),
);
process.exit(met ? 0 : 1);
