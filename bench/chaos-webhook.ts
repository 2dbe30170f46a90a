/**
 * Webhook chaos (issue 18): the built `trustgate webhook`, registered through the chart's
 * ValidatingWebhookConfiguration (failurePolicy Fail) on a local kube-apiserver, is SIGKILLed K times. While it is
 * down, labelled Pods must be refused and unlabelled ones are not sent to it (the chart's objectSelector); after each
 * restart on the same port, a labelled Pod must be admitted again within 10 s of the webhook being ready.
 *   make build && node bench/chaos-webhook.ts [--kills 5] [--down-ms 3000]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { applyManifestFile, waitUntil } from "../operator/test/support/apply.ts";
import { startLocalWebhook, type WebhookSpawner } from "../operator/test/support/webhook.ts";
import { startBenchCluster, startBuiltTrustgate } from "./attest-harness.ts";
import { gatedNamespace, killAndRestartWebhook, type KillRound } from "./lib/webhook-chaos.ts";

const { values } = parseArgs({
  options: { kills: { type: "string", default: "5" }, "down-ms": { type: "string", default: "3000" } },
});
const kills = Number(values.kills);
const downMs = Number(values["down-ms"]);
if (!Number.isInteger(kills) || kills < 1 || !(downMs >= 500)) {
  console.error("chaos-webhook: --kills must be a positive integer and --down-ms at least 500");
  process.exit(2);
}
const TARGET_MS = 10_000;

const cluster = await startBenchCluster();
const rounds: KillRound[] = [];
let exitCode = 0;
try {
  await applyManifestFile(cluster.kc, "charts/trustgate/files/rbac/webhook.yaml");
  const spawn: WebhookSpawner = (name, args) => startBuiltTrustgate(cluster, name, args);
  // As the chart runs it: its CA and serving certificate in a Secret, so a restarted webhook serves the same CA.
  const options = { spawn, extraArgs: ["--cert-secret", "trustgate-webhook-tls"] };
  let webhook = await startLocalWebhook(cluster.kc, cluster.dir, options);
  const probes = await gatedNamespace(cluster.kc, "chaos-webhook");
  await waitUntil(
    "the API server to call the webhook",
    async () => (await probes.labelled()) === undefined,
    30_000,
  );
  for (let round = 1; round <= kills; round++) {
    const result = await killAndRestartWebhook(cluster.kc, cluster.dir, webhook, probes, {
      ...options,
      round,
      downMs,
    });
    webhook = result.webhook;
    rounds.push(result.round);
    console.error(`  kill ${String(round)}: ${JSON.stringify(result.round)}`);
  }
  await webhook.process.stop();
  await cluster.kc
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name: "chaos-webhook" })
    .catch(() => undefined);
} finally {
  await cluster.stop();
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const p50 = (xs: number[]) => sorted(xs)[Math.floor((xs.length - 1) / 2)] ?? 0;
const max = (xs: number[]) => Math.max(...xs);
const afterReady = rounds.map((r) => r.admittedAfterReadyMs);
const sum = (key: keyof KillRound) => rounds.reduce((n, r) => n + Number(r[key]), 0);
const summary = {
  bench: "chaos-webhook",
  date: new Date().toISOString(),
  loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  kills,
  downMs,
  failurePolicy: "Fail",
  labelledRefusedWhileDown: sum("labelledRefusedWhileDown"),
  labelledAdmittedWhileDown: sum("labelledAdmittedWhileDown"),
  unlabelledAdmittedWhileDown: sum("unlabelledAdmittedWhileDown"),
  unlabelledRefusedWhileDown: sum("unlabelledRefusedWhileDown"),
  unlabelledDeploymentsRefusedWhileDown: sum("unlabelledDeploymentsRefusedWhileDown"),
  admittedAfterReadyMs: { p50: p50(afterReady), max: max(afterReady) },
  admittedAfterRestartMs: {
    p50: p50(rounds.map((r) => r.admittedMs)),
    max: max(rounds.map((r) => r.admittedMs)),
  },
  readyAfterRestartMs: { p50: p50(rounds.map((r) => r.readyMs)), max: max(rounds.map((r) => r.readyMs)) },
  targetMs: TARGET_MS,
  rounds,
};
const met =
  summary.labelledAdmittedWhileDown === 0 &&
  summary.unlabelledRefusedWhileDown === 0 &&
  summary.unlabelledDeploymentsRefusedWhileDown === 0 &&
  summary.admittedAfterReadyMs.max <= TARGET_MS;
console.log(JSON.stringify(summary, null, 2));
console.log(
  [
    `chaos-webhook: ${String(kills)} SIGKILLs of the built webhook (failurePolicy Fail), ${String(downMs)} ms down each, load ${summary.loadAverage.join(" ")}`,
    `  while down: ${String(summary.labelledRefusedWhileDown)} labelled Pods refused, ${String(summary.labelledAdmittedWhileDown)} admitted; unlabelled ${String(summary.unlabelledAdmittedWhileDown)} admitted, ${String(summary.unlabelledRefusedWhileDown)} refused; unlabelled Deployments refused ${String(summary.unlabelledDeploymentsRefusedWhileDown)}`,
    `  restart → ready p50 ${String(summary.readyAfterRestartMs.p50)} ms (max ${String(summary.readyAfterRestartMs.max)}); labelled Pod admitted p50 ${String(summary.admittedAfterRestartMs.p50)} ms after the restart, ${String(summary.admittedAfterReadyMs.p50)} ms after ready (max ${String(summary.admittedAfterReadyMs.max)}; target ≤ ${String(TARGET_MS)})`,
    met ? "  met" : "  NOT MET",
  ].join("\n"),
);
if (!met) exitCode = 1;
process.exit(exitCode);
