// Agent scan benchmark: node bench/agent-scan.ts [scans=200]
// Full scan of the 8-GPU TDX fixture (targets: mean and p95 <= 100 ms) and process RSS after the
// scans (target <= 80 MB); also the cost of signing a report. The publishing agent's RSS, as a real
// process against an API server: bench/agent-rss.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanHost } from "../operator/src/agent/scan.ts";
import { loadOrCreateAgentKey, signHostReport } from "../operator/src/agent/signing.ts";
import { defaultProviders, hostFixture } from "../operator/test/support/host-fixtures.ts";

const SCANS = Number(process.argv[2] ?? 200);
const WARMUP = 20;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const host = hostFixture("tdx-8xh100");
const providers = defaultProviders(new Date());
const scanOnce = () => scanHost({ host, ccModeProviders: providers, now: new Date() });

for (let i = 0; i < WARMUP; i += 1) await scanOnce();
const scanMs: number[] = [];
let gpus = 0;
for (let i = 0; i < SCANS; i += 1) {
  const started = performance.now();
  const { status } = await scanOnce();
  scanMs.push(performance.now() - started);
  gpus = status.gpus?.length ?? 0;
}

const dir = mkdtempSync(join(tmpdir(), "bench-"));
const { key } = await loadOrCreateAgentKey(join(dir, "key.jwk"));
const { status } = await scanOnce();
const signMs: number[] = [];
for (let i = 0; i < SCANS; i += 1) {
  const started = performance.now();
  await signHostReport("bench-node", status, key);
  signMs.push(performance.now() - started);
}
rmSync(dir, { recursive: true, force: true });

const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  return {
    meanMs: +mean.toFixed(2),
    p95Ms: +percentile(sorted, 95).toFixed(2),
    maxMs: +(sorted.at(-1) ?? 0).toFixed(2),
  };
};
const scan = summary(scanMs);
const rssMb = () => +(process.memoryUsage().rss / 1024 / 1024).toFixed(1);
const scanRssMb = rssMb();
// The publishing agent also holds its Kubernetes client (node:https, and yaml for kubeconfig files).
await import("../operator/src/kube/load-connection.ts");
await import("../operator/src/kube/rest-client.ts");
await import("yaml");
const withClientRssMb = rssMb();
console.log(
  JSON.stringify({
    fixture: "tdx-8xh100",
    gpus,
    scans: SCANS,
    scan,
    sign: summary(signMs),
    scanRssMb,
    withClientRssMb,
  }),
);
const verdict = (ok: boolean) => (ok ? "ok" : "OVER TARGET");
console.log(
  `scan: mean ${scan.meanMs} ms, p95 ${scan.p95Ms} ms (target <= 100 ms): ${verdict(scan.p95Ms <= 100)}`,
);
console.log(`RSS after ${SCANS} scans: ${scanRssMb} MB (target <= 80 MB): ${verdict(scanRssMb <= 80)}`);
console.log(
  `RSS with the agent's Kubernetes client loaded: ${withClientRssMb} MB: ${verdict(withClientRssMb <= 80)}`,
);
console.log("(run from source, Node's type stripping adds to RSS; the built agent in dist/ uses less)");
