// Benchmark (issue 5): time from VMI Running to Attested=True for one ConfidentialVM with 8 simulated H100s on
// the local control plane (target <= 1 s), with real verification of the SNP report, the binding, and every
// GPU's SPDM signature, device chain and nonce. Each run is one CVM on its own host, answered by a built
// `trustgate guest` process configured from the CVM's cloud-init Secret and started while the VM boots.
//   make build && node bench/attest-latency.ts [--runs 5] [--guest-self-check]
// The guest's self-check (it verifies its own evidence after submitting it) is off by default: in a CVM it runs on
// the CVM's own vCPUs, here it would compete with the controller for the machine's two cores.
// Prints a breakdown per run: VMI Running -> challenge written -> evidence applied -> Attested seen, and the
// controller's own verify / secret sealing / status write times from its log.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CustomObjectsApi, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { pino } from "pino";
import type { ManagedProcess } from "../hack/lib/managed-process.ts";
import { ResourceWatch } from "../operator/src/runtime/informer.ts";
import { guestFilesWhenReady } from "../operator/test/support/attestation-stack.ts";
import { simulatedGuestArgs } from "../operator/test/support/guest-from-cloud-init.ts";
import {
  createCvm,
  isAttested,
  NS,
  snpCvm,
  startAttestationBench,
  startBenchCluster,
  startBuiltTrustgate,
  waitForValidatedHosts,
  watchCvms,
} from "./attest-harness.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    "guest-self-check": { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1)
  throw new Error(`--runs must be a positive integer, not ${values.runs}`);
// The simulated VM takes this long per VMI phase, so its guest is up and watching before the VMI is Running.
const BOOT_STEP_MS = 1500;

interface Marks {
  running?: number;
  challenge?: number;
  evidence?: number;
  attested?: number;
}

const marks = new Map<string, Marks>();
const mark = (name: string, what: keyof Marks): void => {
  const m = marks.get(name) ?? {};
  m[what] ??= Date.now();
  marks.set(name, m);
};

/** The controller's "Appraised attestation evidence" log line for a CVM (pino JSON). */
async function appraisalLog(
  log: string,
  key: string,
): Promise<{ time: number; verifyMs: number; secretsMs: number; writeMs: number } | undefined> {
  for (const line of (await readFile(log, "utf8")).split("\n")) {
    if (!line.includes("Appraised attestation evidence") || !line.includes(`"${key}"`)) continue;
    const parsed = JSON.parse(line) as { time: string; verifyMs: number; secretsMs: number; writeMs: number };
    // createLogger writes ISO-8601 times.
    return { ...parsed, time: Date.parse(parsed.time) };
  }
  return undefined;
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
};

const cluster = await startBenchCluster();
const processes: ManagedProcess[] = [];
try {
  const hosts = Array.from({ length: RUNS }, (_, i) => `bench-snp-${String(i)}`);
  const { controller, simulator } = await startAttestationBench(cluster, hosts, {
    logLevel: "info",
    vmi: { stepDelayMs: BOOT_STEP_MS },
  });
  processes.push(controller, simulator);
  await waitForValidatedHosts(cluster, RUNS);

  const cvms = await watchCvms(cluster, (cvm) => {
    const name = cvm.metadata.name ?? "";
    const status = cvm.status;
    if (status?.challenge !== undefined) mark(name, "challenge");
    if (status?.evidence !== undefined) mark(name, "evidence");
    if (isAttested(cvm)) mark(name, "attested");
  });
  const objects = cluster.kc.makeApiClient(CustomObjectsApi);
  const vmis = new ResourceWatch<KubernetesObject & { status?: { phase?: string } }>({
    kc: cluster.kc,
    path: `/apis/kubevirt.io/v1/namespaces/${NS}/virtualmachineinstances`,
    list: () =>
      objects.listNamespacedCustomObject({
        group: "kubevirt.io",
        version: "v1",
        namespace: NS,
        plural: "virtualmachineinstances",
      }) as Promise<KubernetesListObject<KubernetesObject & { status?: { phase?: string } }>>,
    log: pino({ level: "silent" }),
    onEvent: (_event, vmi) => {
      if (vmi.status?.phase === "Running") mark(vmi.metadata?.name ?? "", "running");
    },
  });
  await vmis.start();
  await vmis.synced();

  const runs = [];
  for (const [i, host] of hosts.entries()) {
    const name = `latency-${String(i)}`;
    await createCvm(cluster, snpCvm(name, host));
    const files = await guestFilesWhenReady(cluster.kc, NS, name, join(cluster.dir, `guest-${name}`));
    const selfCheck = values["guest-self-check"] ? [] : ["--skip-self-check"];
    const guestArgs = [...simulatedGuestArgs(files, cluster.simPki), ...selfCheck];
    const guest = startBuiltTrustgate(cluster, `guest-${name}`, guestArgs);
    const deadline = Date.now() + 60_000;
    while (marks.get(name)?.attested === undefined) {
      if (Date.now() > deadline) throw new Error(`${name} was not Attested within 60 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await guest.stop();
    const m = marks.get(name) ?? {};
    const log = await appraisalLog(join(cluster.dir, "controller.log"), `${NS}/${name}`);
    const since = (t: number | undefined): number => (t ?? NaN) - (m.running ?? NaN);
    runs.push({
      cvm: name,
      challengeWrittenMs: since(m.challenge),
      evidenceAppliedMs: since(m.evidence),
      verifiedMs: log === undefined ? NaN : since(log.time - log.writeMs - log.secretsMs),
      statusWrittenMs: log === undefined ? NaN : since(log.time),
      attestedSeenMs: since(m.attested),
      controller:
        log === undefined ? {} : { verifyMs: log.verifyMs, secretsMs: log.secretsMs, writeMs: log.writeMs },
    });
    process.stderr.write(`${name}: VMI Running -> Attested ${String(since(m.attested))} ms\n`);
  }
  await cvms.stop();
  await vmis.stop();
  const warm = runs.slice(1);
  console.log(
    JSON.stringify(
      {
        gpusPerCvm: 8,
        guestSelfCheck: values["guest-self-check"],
        runs,
        firstRunMs: runs[0]?.attestedSeenMs,
        medianWarmMs: warm.length === 0 ? undefined : median(warm.map((r) => r.attestedSeenMs)),
        medianWarmBreakdownMs:
          warm.length === 0
            ? undefined
            : {
                challengeWritten: median(warm.map((r) => r.challengeWrittenMs)),
                evidenceApplied: median(warm.map((r) => r.evidenceAppliedMs)),
                verified: median(warm.map((r) => r.verifiedMs)),
                statusWritten: median(warm.map((r) => r.statusWrittenMs)),
                attestedSeen: median(warm.map((r) => r.attestedSeenMs)),
              },
        targetMs: 1000,
      },
      null,
      2,
    ),
  );
} finally {
  await Promise.all(processes.map((p) => p.stop()));
  await cluster.stop();
}
