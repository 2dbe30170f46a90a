// Benchmark (issue 5): N ConfidentialVMs x 8 simulated H100s attested on the local control plane (default
// 1,000 CVMs on 1,000 SEV-SNP hosts). Prints the time from creating the CVMs to all Attested=True, CVMs/s,
// create->Attested percentiles, the built controller's peak RSS, and the CPU time of the controller and of this
// process (the simulated guests) apart, with the load average (the machine is shared).
//   make build && node bench/attest-scale.ts [--cvms 1000] [--concurrency 4] [--controller-workers 8]
// The guests are simulated in this process (bench/lib/sim-guests.ts): one `Guest` (guest/src/guest.ts, the code
// `trustgate guest` runs) per CVM with its own token; their bundles carry no RIMs. docs/attest-scale.md reads the
// numbers.
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { freeLoopbackPorts, type ManagedProcess } from "../hack/lib/managed-process.ts";
import {
  cpuSeconds,
  createCvm,
  inBatches,
  isAttested,
  peakRssMb,
  snpCvm,
  startAttestationBench,
  startBenchCluster,
  waitForValidatedHosts,
  watchCvms,
} from "./attest-harness.ts";
import { apiserverCounts, perObject } from "./lib/apiserver-requests.ts";
import { providersWithoutRims, SimulatedGuests, warmHostIdentities } from "./lib/sim-guests.ts";

const { values } = parseArgs({
  options: {
    cvms: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "4" },
    // The controller's --workers (its default, as the chart's, is 8).
    "controller-workers": { type: "string" },
  },
});
const CVMS = Number(values.cvms);
const CONCURRENCY = Number(values.concurrency);
if (!Number.isInteger(CVMS) || CVMS < 1)
  throw new Error(`--cvms must be a positive integer, not ${values.cvms}`);
if (!Number.isInteger(CONCURRENCY) || CONCURRENCY < 1)
  throw new Error(`--concurrency must be a positive integer, not ${values.concurrency}`);

/** The controller's memory gauges (prom-client's process and Node.js defaults), in MB. */
async function controllerMemory(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
  const gauge = (name: string): number => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return Number(((Number(line?.slice(line.lastIndexOf(" ") + 1)) || 0) / 1048576).toFixed(1));
  };
  return {
    heapUsed: gauge("nodejs_heap_size_used_bytes"),
    heapTotal: gauge("nodejs_heap_size_total_bytes"),
    external: gauge("nodejs_external_memory_bytes"),
    rss: gauge("process_resident_memory_bytes"),
  };
}

const percentile = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
};

const cluster = await startBenchCluster();
const processes: ManagedProcess[] = [];
try {
  const hosts = Array.from({ length: CVMS }, (_, i) => `bench-snp-${String(i).padStart(4, "0")}`);
  const names = Array.from({ length: CVMS }, (_, i) => `cvm-${String(i).padStart(4, "0")}`);
  const providers = await providersWithoutRims(cluster.simPki);
  const made = await warmHostIdentities(cluster.simPki, providers, hosts, names);
  process.stderr.write(
    `${String(made.ocspResponses)} OCSP responses pre-produced, ${String(made.vceks)} VCEKs pre-issued\n`,
  );
  process.stderr.write(`publishing ${String(CVMS)} signed SNP host reports...\n`);
  const [metricsPort = 0] = await freeLoopbackPorts(1);
  const { controller, simulator } = await startAttestationBench(cluster, hosts, {
    logLevel: "warn",
    vmi: { startRunning: true },
    controllerArgs: [
      ...["--metrics-bind-address", `127.0.0.1:${String(metricsPort)}`],
      ...(values["controller-workers"] === undefined ? [] : ["--workers", values["controller-workers"]]),
    ],
  });
  processes.push(controller, simulator);

  await waitForValidatedHosts(cluster, CVMS);
  process.stderr.write(`${String(CVMS)} hosts validated\n`);

  const guests = new SimulatedGuests(cluster, providers, { concurrency: CONCURRENCY });
  const createdAt = new Map<string, number>();
  const attestedAt = new Map<string, number>();
  const cvms = await watchCvms(cluster, (cvm) => {
    const name = cvm.metadata.name ?? "";
    if (isAttested(cvm) && !attestedAt.has(name)) attestedAt.set(name, Date.now());
    guests.observe(cvm);
  });

  const countsBefore = await apiserverCounts(cluster.dir, cluster.server, cluster.caCertPem);
  const controllerCpuBefore = await cpuSeconds(controller.pid);
  const apiserverCpuBefore = await cpuSeconds(cluster.pids.apiserver);
  const etcdCpuBefore = await cpuSeconds(cluster.pids.etcd);
  const simulatorCpuBefore = await cpuSeconds(simulator.pid);
  const benchCpuBefore = process.cpuUsage();
  const started = Date.now();
  await inBatches(names, 50, async (name) => {
    createdAt.set(name, Date.now());
    await createCvm(cluster, snpCvm(name));
  });
  while (attestedAt.size < CVMS) {
    await new Promise((r) => setTimeout(r, 500));
    process.stderr.write(
      `\r${String(attestedAt.size)}/${String(CVMS)} Attested after ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  const seconds = (Date.now() - started) / 1000;
  const rss = await peakRssMb(controller.pid);
  const controllerCpu = (await cpuSeconds(controller.pid)) - controllerCpuBefore;
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const apiserverCpu = (await cpuSeconds(cluster.pids.apiserver)) - apiserverCpuBefore;
  const etcdCpu = (await cpuSeconds(cluster.pids.etcd)) - etcdCpuBefore;
  const simulatorCpu = (await cpuSeconds(simulator.pid)) - simulatorCpuBefore;
  const countsAfter = await apiserverCounts(cluster.dir, cluster.server, cluster.caCertPem);
  const memory = await controllerMemory(metricsPort);
  process.stderr.write("\n");
  await cvms.stop();
  guests.close();
  for (const message of guests.failureMessages) process.stderr.write(`${message}\n`);
  const latencies = names.map((n) => (attestedAt.get(n) ?? NaN) - (createdAt.get(n) ?? NaN));
  console.log(
    JSON.stringify(
      {
        cvms: CVMS,
        gpusPerCvm: 8,
        guestDriver: `in-process Guest per CVM with its own token, concurrency ${String(CONCURRENCY)}`,
        controllerWorkers: Number(values["controller-workers"] ?? 8),
        secondsToAllAttested: Number(seconds.toFixed(1)),
        cvmsPerSecond: Number((CVMS / seconds).toFixed(1)),
        createdToAttestedMs: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95) },
        guestAnswerFailures: guests.failures,
        controllerPeakRssMb: Number(rss.toFixed(0)),
        // At the end, from its own /metrics: V8 heap (used of total), memory outside it (Buffers, X509 objects), RSS.
        controllerMemoryAtEndMb: memory,
        // From creating the first CVM to the last Attested: the controller's, and this process's (the simulated
        // guests' evidence and writes, creating the CVMs, the watch).
        controllerCpuSeconds: Number(controllerCpu.toFixed(1)),
        guestsAndDriverCpuSeconds: Number(((benchCpu.user + benchCpu.system) / 1e6).toFixed(1)),
        kubeApiserverCpuSeconds: Number(apiserverCpu.toFixed(1)),
        etcdCpuSeconds: Number(etcdCpu.toFixed(1)),
        kubevirtSimulatorCpuSeconds: Number(simulatorCpu.toFixed(1)),
        // What the API server served per CVM (all clients: controller, guests, simulator, this driver).
        apiserverPerCvm: perObject(countsBefore, countsAfter, CVMS),
        loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
      },
      null,
      2,
    ),
  );
} finally {
  await Promise.all(processes.map((p) => p.stop()));
  await cluster.stop();
}
