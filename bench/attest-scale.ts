// Benchmark (issue 5): N ConfidentialVMs x 8 simulated H100s attested on the local control plane (default
// 1,000 CVMs on 1,000 SEV-SNP hosts). Prints the time from creating the CVMs to all Attested=True, CVMs/s,
// create->Attested percentiles, the built controller's peak RSS, and the CPU time of the controller and of this
// process (the simulated guests) apart, with the load average (the machine is shared).
//   make build && node bench/attest-scale.ts [--cvms 1000] [--concurrency 4] [--controller-workers 8]
// The guests are simulated in this process: one `Guest` (guest/src/guest.ts, the code `trustgate guest` runs) per
// CVM, reading its token from the CVM's cloud-init Secret and applying status.evidence with it (server-side apply,
// field manager trustgate-guest, under the guest admission policy). Their bundles carry no RIMs (optional in a
// bundle): 1,000 bundles with 16 RIMs each would not fit the local etcd's 256 MB quota.
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { loadGuestConfig, guestConnection } from "../guest/src/config.ts";
import type { EvidenceProviders } from "../guest/src/evidence.ts";
import { Guest } from "../guest/src/guest.ts";
import { CvmClient } from "../guest/src/kube/cvm-client.ts";
import { createProviders } from "../guest/src/providers/select.ts";
import type { ManagedProcess } from "../hack/lib/managed-process.ts";
import type { ConfidentialVM } from "../operator/src/api/v1alpha1/generated/types.ts";
import { guestFilesFromCloudInit } from "../operator/test/support/guest-from-cloud-init.ts";
import {
  cpuSeconds,
  createCvm,
  gpuAddresses,
  inBatches,
  isAttested,
  NS,
  peakRssMb,
  snpCvm,
  startAttestationBench,
  startBenchCluster,
  waitForValidatedHosts,
  watchCvms,
} from "./attest-harness.ts";

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

/** The simulated TEE and GPUs, with RIMs left out of each GPU's entry. */
async function providersWithoutRims(simPki: string): Promise<EvidenceProviders> {
  const providers = await createProviders({ tee: "simulated", gpu: "simulated", tsmRoot: "", simPki });
  const gpus = providers.gpus;
  if (gpus === undefined) throw new Error("no simulated GPUs");
  return {
    tee: providers.tee,
    gpus: {
      name: gpus.name,
      ...(gpus.systemState === undefined ? {} : { systemState: gpus.systemState.bind(gpus) }),
      collect: async (nonce, hardware) =>
        (await gpus.collect(nonce, hardware)).map((gpu) => {
          const entry = { ...gpu };
          delete entry.rims;
          return entry;
        }),
    },
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
  process.stderr.write(`publishing ${String(CVMS)} signed SNP host reports...\n`);
  const { controller, simulator } = await startAttestationBench(cluster, hosts, {
    logLevel: "warn",
    vmi: { startRunning: true },
    controllerArgs:
      values["controller-workers"] === undefined ? [] : ["--workers", values["controller-workers"]],
  });
  processes.push(controller, simulator);

  // The simulated devices' identities (a key and certificate per GPU and per chip) are the hosts', made once:
  // create them before the clock starts, as real GPUs and CPUs come with theirs.
  const providers = await providersWithoutRims(cluster.simPki);
  const warmNonce = new Uint8Array(32);
  for (const host of hosts) {
    const hardware = { machine: host, gpus: gpuAddresses().map((a) => `${host}/${a}`) };
    await providers.tee.collect(new Uint8Array(64), hardware);
    await providers.gpus?.collect(warmNonce, hardware);
  }
  await waitForValidatedHosts(cluster, CVMS);
  process.stderr.write(`${String(CVMS)} hosts validated\n`);

  const guests = new Map<string, Promise<Guest>>();
  const clients: CvmClient[] = [];
  const guestFor = (name: string): Promise<Guest> => {
    let guest = guests.get(name);
    if (guest === undefined) {
      guest = (async () => {
        const files = await guestFilesFromCloudInit(cluster.kc, NS, name, join(cluster.dir, "guests", name));
        const config = await loadGuestConfig(files.config);
        const api = new CvmClient(guestConnection(config, files.config), config);
        clients.push(api);
        return new Guest({
          api,
          providers,
          secretsDir: files.secretsDir,
          log: pino({ level: "silent" }),
        });
      })();
      guests.set(name, guest);
    }
    return guest;
  };

  const createdAt = new Map<string, number>();
  const attestedAt = new Map<string, number>();
  const pending = new Map<string, ConfidentialVM>();
  const answered = new Set<string>();
  let active = 0;
  let failures = 0;
  const pump = (): void => {
    while (active < CONCURRENCY && pending.size > 0) {
      const [name, cvm] = pending.entries().next().value as [string, ConfidentialVM];
      pending.delete(name);
      active += 1;
      void guestFor(name)
        .then((guest) => guest.handle(cvm))
        .then((result) => {
          if (result.answered !== undefined) answered.add(result.answered.nonce);
          if (result.error !== undefined) throw result.error;
        })
        .catch((error: unknown) => {
          failures += 1;
          if (failures <= 5) process.stderr.write(`\n${name}: ${(error as Error).message}\n`);
        })
        .finally(() => {
          active -= 1;
          pump();
        });
    }
  };
  const cvms = await watchCvms(cluster, (cvm) => {
    const name = cvm.metadata.name ?? "";
    if (isAttested(cvm) && !attestedAt.has(name)) attestedAt.set(name, Date.now());
    const nonce = cvm.status?.challenge?.nonce;
    if (nonce !== undefined && !answered.has(nonce)) {
      pending.set(name, cvm);
      pump();
    }
  });

  const controllerCpuBefore = await cpuSeconds(controller.pid);
  const benchCpuBefore = process.cpuUsage();
  const started = Date.now();
  const names = Array.from({ length: CVMS }, (_, i) => `cvm-${String(i).padStart(4, "0")}`);
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
  process.stderr.write("\n");
  await cvms.stop();
  for (const client of clients) client.close();
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
        guestAnswerFailures: failures,
        controllerPeakRssMb: Number(rss.toFixed(0)),
        // From creating the first CVM to the last Attested: the controller's, and this process's (the simulated
        // guests' evidence and writes, creating the CVMs, the watch).
        controllerCpuSeconds: Number(controllerCpu.toFixed(1)),
        guestsAndDriverCpuSeconds: Number(((benchCpu.user + benchCpu.system) / 1e6).toFixed(1)),
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
