// Admission webhook latency: node bench/webhook-latency.ts [--rate 500] [--seconds 10] [--cvms 1000]
// (issue 18's target: --rate 2000 --cvms 10000, p99 <= 2 ms; positional `rate seconds cvms` still work).
// The webhook's HTTPS server runs in a worker thread (its own event loop, as in its own process) over a
// pre-synced cache of ConfidentialVMs; the main thread is an open-loop client: it sends `rate` Pod
// AdmissionReviews per second over loopback keep-alive connections on a fixed schedule, whether or not
// earlier ones have been answered, and measures each from its scheduled send time (so a stall counts
// against every request it delays). Target: p99 <= 5 ms at 500 requests/s.
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { getHeapStatistics } from "node:v8";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { pino } from "pino";
import type { ConfidentialVM } from "../operator/src/api/v1alpha1/generated/types.ts";
import type { KeyPairPem } from "../operator/src/webhook/certs/x509.ts";
import { loopbackCertificates } from "./lib/loopback-tls.ts";
import { startWebhookServer } from "../operator/src/webhook/server.ts";
import { aPod, aRequest, anAttestedCvm } from "../operator/test/support/builders/admission-requests.ts";

interface Setup {
  cvms: number;
  certificate: KeyPairPem;
}

function cvmName(i: number): string {
  return `llm-${String(i).padStart(4, "0")}`;
}

async function serve({ cvms, certificate }: Setup): Promise<void> {
  const later = new Date(Date.now() + 3_600_000).toISOString();
  const byKey = new Map<string, ConfidentialVM>();
  for (let i = 0; i < cvms; i++) {
    // Every fifth CVM is not attested, so a fifth of the requests are denials with a message.
    const cvm =
      i % 5 === 4
        ? anAttestedCvm(cvmName(i), { attested: "False" })
        : anAttestedCvm(cvmName(i), { expiresAt: later });
    byKey.set(`team-a/${cvmName(i)}`, cvm);
  }
  const server = await startWebhookServer({
    address: "127.0.0.1:0",
    certificate,
    view: {
      synced: () => true,
      cvm: (ns, name) => byKey.get(`${ns}/${name}`),
      policy: () => undefined,
      policyUsers: () => [],
    },
    jwks: () => ({ error: "none" }),
    log: pino({ level: "silent" }),
    observer: {
      observe: (_target, _allowed, _code, seconds) => {
        handled.push(seconds * 1000);
      },
    },
  });
  const handled: number[] = [];
  parentPort?.on("message", (message) => {
    // "reset" after the warm-up, "report" at the end: the server-side time of each review.
    if (message === "reset") handled.length = 0;
    else if (message === "heap") parentPort?.postMessage(getHeapStatistics().used_heap_size);
    else parentPort?.postMessage(handled);
  });
  parentPort?.postMessage(server.port);
}

/** A Pod AdmissionReview of realistic size (a few KB: managed fields, env, volumes, as the API server sends). */
function reviewBody(i: number, cvms: number): string {
  const pod = aPod(cvmName(i % cvms), `web-${String(i)}`);
  const spec = pod["spec"] as { containers: Record<string, unknown>[] };
  spec.containers = [
    {
      name: "app",
      image: "registry.example.com/team-a/inference-server@sha256:" + "ab".repeat(32),
      env: Array.from({ length: 12 }, (_, k) => ({ name: `SETTING_${String(k)}`, value: "x".repeat(40) })),
      resources: { requests: { cpu: "2", memory: "8Gi" }, limits: { memory: "16Gi" } },
      volumeMounts: [{ name: "kube-api-access", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" }],
    },
  ];
  const metadata = pod["metadata"] as Record<string, unknown>;
  metadata["managedFields"] = [
    {
      manager: "kube-controller-manager",
      operation: "Update",
      fieldsV1: { "f:spec": { "f:containers": "x".repeat(800) } },
    },
  ];
  const request = { ...aRequest("Pod", pod), uid: `00000000-0000-0000-0000-${String(i).padStart(12, "0")}` };
  return JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function drive(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      rate: { type: "string" },
      seconds: { type: "string" },
      cvms: { type: "string" },
      client: { type: "string" },
    },
    allowPositionals: true,
  });
  const rate = Number(values.rate ?? positionals[0] ?? 500);
  const seconds = Number(values.seconds ?? positionals[1] ?? 10);
  const cvms = Number(values.cvms ?? positionals[2] ?? 1000);
  for (const [name, value] of Object.entries({ rate, seconds, cvms }))
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  const client = values.client ?? "go";
  if (client !== "go" && client !== "node") throw new Error(`--client must be go or node, not ${client}`);
  const rssBefore = process.memoryUsage.rss();
  const { ca, server: certificate } = loopbackCertificates();
  const worker = new Worker(new URL(import.meta.url), { workerData: { cvms, certificate } satisfies Setup });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  const ask = <T>(message: string): Promise<T> => {
    const answer = new Promise<T>((resolve) => worker.once("message", resolve));
    worker.postMessage(message);
    return answer;
  };
  // The webhook's own isolate, its cache filled: what the CVMs cost it. The process RSS also holds this client.
  const webhookHeapFilled = await ask<number>("heap");
  const rssFilled = process.memoryUsage.rss();
  // The API server keeps a pool of connections to a webhook; so does this client.
  const agent = new Agent({ keepAlive: true, maxSockets: 16, ca: ca.certPem });
  const bodies = Array.from({ length: 997 }, (_, i) => reviewBody(i, cvms));
  const latencies: number[] = [];
  const sendLag: number[] = [];
  let errors = 0;
  let denied = 0;
  let sent = 0;

  const send = (scheduled: number, body: string): Promise<void> =>
    new Promise((resolve) => {
      sendLag.push(performance.now() - scheduled);
      const req = request(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/validate/workloads?timeout=10s",
          agent,
          headers: { "content-type": "application/json" },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
          res.on("end", () => {
            const elapsed = performance.now() - scheduled;
            if (res.statusCode !== 200) errors++;
            else {
              latencies.push(elapsed);
              if (!text.includes('"allowed":true')) denied++;
            }
            resolve();
          });
        },
      );
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end(body);
    });

  const run = async (durationMs: number, record: boolean): Promise<void> => {
    const total = Math.round((durationMs / 1000) * rate);
    const interval = 1000 / rate;
    const start = performance.now();
    const inFlight: Promise<void>[] = [];
    if (record) worker.postMessage("reset");
    let next = 0;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
        for (; next < due; next++) {
          const body = bodies[next % bodies.length] ?? "";
          inFlight.push(send(start + next * interval, body));
          if (record) sent++;
        }
        if (next >= total) {
          clearInterval(tick);
          resolve();
        }
      }, 1);
    });
    await Promise.all(inFlight);
  };

  let measured: ClientResult;
  if (client === "go") {
    measured = await goClient({
      port,
      caPem: ca.certPem,
      bodies,
      rate,
      seconds,
      reset: () => {
        worker.postMessage("reset");
      },
    });
  } else {
    await run(2_000, false); // warm-up: JIT, TLS sessions, connection pool
    latencies.length = 0;
    sendLag.length = 0;
    errors = 0;
    denied = 0;
    const started = performance.now();
    await run(seconds * 1000, true);
    const wall = (performance.now() - started) / 1000;
    measured = {
      sent,
      answered: latencies.length,
      denied,
      errors,
      achievedPerSecond: sent / wall,
      latencyMs: summary(latencies),
      sendLagMs: summary(sendLag),
    };
  }
  const server = await ask<number[]>("report");
  const webhookHeapAfter = await ask<number>("heap");
  const rssAfter = process.memoryUsage.rss();
  const serverSummary = summary(server);
  const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;
  const { latencyMs: l, sendLagMs: lag } = measured;
  console.log(
    `webhook latency: ${String(measured.sent)} Pod reviews at ${String(rate)}/s (${measured.achievedPerSecond.toFixed(0)}/s achieved), ${String(cvms)} cached CVMs, keep-alive TLS, ${client === "go" ? "Go client in its own process (as kube-apiserver calls webhooks)" : "Node client on this process's main thread"}`,
  );
  console.log(
    `  answered ${String(measured.answered)} (${String(measured.denied)} denied by policy), errors ${String(measured.errors)}${measured.firstError === undefined ? "" : ` (first: ${measured.firstError})`}`,
  );
  console.log(
    `  p50 ${fmt(l.p50)}  p95 ${fmt(l.p95)}  p99 ${fmt(l.p99)}  max ${fmt(l.max)}  (target p99 <= 2 ms at 2,000/s with 10,000 CVMs)`,
  );
  console.log(
    `  server side (body read, parse, decide, answer): p50 ${fmt(serverSummary.p50)}  p99 ${fmt(serverSummary.p99)}  max ${fmt(serverSummary.max)}`,
  );
  console.log(
    `  client send lag behind schedule (load on this machine): p99 ${fmt(lag.p99)}  max ${fmt(lag.max)}`,
  );
  const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MB`;
  console.log(
    `  memory: webhook isolate heap used ${mb(webhookHeapFilled)} with the cache filled, ${mb(webhookHeapAfter)} after the run; process RSS (webhook thread + this client) ${mb(rssBefore)} at start, ${mb(rssFilled)} filled, ${mb(rssAfter)} after, peak ${mb(process.resourceUsage().maxRSS * 1024)}`,
  );
  console.log(
    `  load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  agent.destroy();
  await worker.terminate();
}

interface Summary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

interface ClientResult {
  sent: number;
  answered: number;
  denied: number;
  errors: number;
  firstError?: string;
  achievedPerSecond: number;
  latencyMs: Summary;
  sendLagMs: Summary;
}

function summary(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** bench/webhook-load (Go, built and cached by its build.sh) against the webhook; its own 2 s warm-up first. */
async function goClient(options: {
  port: number;
  caPem: string;
  bodies: readonly string[];
  rate: number;
  seconds: number;
  reset: () => void;
}): Promise<ClientResult> {
  const here = new URL(".", import.meta.url).pathname;
  const binary = execFileSync("bash", [join(here, "webhook-load/build.sh")], { encoding: "utf8" }).trim();
  const dir = await mkdtemp(join(tmpdir(), "trustgate-webhook-load-"));
  try {
    await writeFile(join(dir, "ca.pem"), options.caPem);
    await writeFile(join(dir, "bodies.json"), JSON.stringify(options.bodies));
    const child = spawn(
      binary,
      [
        ...["-url", `https://127.0.0.1:${String(options.port)}/validate/workloads`],
        ...["-cacert", join(dir, "ca.pem"), "-bodies", join(dir, "bodies.json")],
        ...["-rate", String(options.rate), "-seconds", String(options.seconds), "-warmup", "2"],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    // The server-side times cover the measured phase only: reset when the client says its warm-up is over.
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      if (chunk.includes("webhook-load: measuring")) options.reset();
      else process.stderr.write(chunk);
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`webhook-load exited ${String(code)}`);
    return JSON.parse(out) as ClientResult;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await drive();
else await serve(workerData as Setup);
