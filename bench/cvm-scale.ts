// Benchmark (issue 4): N ConfidentialVMs over H fixture hosts with 8 H100s each reach Attesting on the
// local control plane. Prints the time, the controller's peak RSS and the API writes per CVM.
//   node bench/cvm-scale.ts [--cvms 1000] [--hosts 125]
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { mergePatch } from "../operator/src/kube/merge-patch.ts";
import { parse } from "yaml";
import { startControlPlane } from "../hack/lib/control-plane.ts";
import { benchHostStatus, inBatches, peakRssMb } from "./attest-harness.ts";
import { resolveBinDir } from "../hack/lib/find-binaries.ts";
import { httpsGet } from "../hack/lib/https-get.ts";
import { spawnManaged } from "../hack/lib/managed-process.ts";
import { signHostReport, loadOrCreateAgentKey } from "../operator/src/agent/signing.ts";
import type { ConfidentialVM } from "../operator/src/api/v1alpha1/generated/types.ts";
import { applyCrds, readCrdFile } from "../operator/test/support/crd-install.ts";
import { installKubevirt, simulateVirtHandler } from "../operator/test/support/kubevirt/installation.ts";
import { loadKubeConfig } from "../operator/src/kube/kubeconfig.ts";
import { anAttestationPolicy } from "../operator/test/support/builders/attestation-policy.ts";
import { OFFLINE_COLLATERAL } from "../operator/test/support/trustgate-process.ts";

const { values } = parseArgs({
  options: { cvms: { type: "string", default: "1000" }, hosts: { type: "string", default: "125" } },
});
const CVMS = Number(values.cvms);
const HOSTS = Number(values.hosts);
const ROOT = new URL("..", import.meta.url).pathname;
const NS = "bench";
const trustgate = { group: "trustgate.io", version: "v1alpha1" };

/** Sum of apiserver_request_total for write verbs, by "resource/subresource". */
async function writeCounts(
  server: string,
  tls: { ca: string; cert: string; key: string },
): Promise<Map<string, number>> {
  const res = await httpsGet(`${server}/metrics`, tls);
  const counts = new Map<string, number>();
  for (const line of res.body.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? "";
    if (!["POST", "PATCH", "PUT", "DELETE", "APPLY"].includes(verb)) continue;
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? "";
    const sub = /subresource="([^"]*)"/.exec(line)?.[1] ?? "";
    const key = `${resource}/${sub}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return counts;
}

const dir = await mkdtemp(join(tmpdir(), "trustgate-bench-"));
const cp = await startControlPlane({ binDir: await resolveBinDir(), dir });
try {
  const kc = loadKubeConfig(cp.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  for (const crd of ["confidentialhosts", "confidentialvms", "attestationpolicies"]) {
    await applyCrds(kc, await readCrdFile(join(ROOT, `crds/${crd}.trustgate.io.yaml`)));
  }
  await installKubevirt(kc);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await objects.createClusterCustomObject({
    ...trustgate,
    plural: "attestationpolicies",
    body: anAttestationPolicy("bench"),
  });
  const key = (await loadOrCreateAgentKey(join(dir, "bench.jwk"))).key;
  const hostNames = Array.from({ length: HOSTS }, (_, i) => `bench-host-${String(i).padStart(3, "0")}`);
  await inBatches(hostNames, 25, async (name) => {
    await core.createNode({ body: { metadata: { name, labels: { "kubernetes.io/hostname": name } } } });
    await objects.createClusterCustomObject({
      ...trustgate,
      plural: "confidentialhosts",
      body: { apiVersion: "trustgate.io/v1alpha1", kind: "ConfidentialHost", metadata: { name }, spec: {} },
    });
    const status = await signHostReport(name, benchHostStatus(name, "tdx"), key);
    await simulateVirtHandler(kc, name, { tee: "tdx", gpus: status.gpus ?? [] });
    await objects.patchClusterCustomObjectStatus(
      { ...trustgate, plural: "confidentialhosts", name, body: { status } },
      mergePatch,
    );
  });

  const node = process.execPath;
  process.env["LOG_LEVEL"] = "warn";
  // The built controller, as it runs in the image (`make build`); from source, Node's type stripping adds ~100 MB.
  const controllerMain = join(ROOT, "dist/operator/src/cmd/main.js");
  if (!existsSync(controllerMain))
    throw new Error("run `make build` first: the benchmark measures the built controller");
  // The controller as the chart runs it: the chart's NODE_OPTIONS (V8 heap sizes), unless BENCH_NODE_FLAGS.
  const chartValues = parse(await readFile(join(ROOT, "charts/trustgate/values.yaml"), "utf8")) as {
    controller?: { nodeOptions?: string };
  };
  const nodeFlags = process.env["BENCH_NODE_FLAGS"] ?? chartValues.controller?.nodeOptions ?? "";
  const controller = spawnManaged(
    "controller",
    node,
    [
      ...nodeFlags.split(" ").filter((f) => f !== ""),
      controllerMain,
      "controller",
      ...OFFLINE_COLLATERAL,
      "--kubeconfig",
      cp.kubeconfigPath,
    ],
    join(dir, "controller.log"),
  );
  const simulator = spawnManaged(
    "simulator",
    node,
    [join(ROOT, "e2e/kubevirt-simulator/main.ts"), "--kubeconfig", cp.kubeconfigPath, "--start-running"],
    join(dir, "simulator.log"),
  );
  const validated = async (): Promise<number> =>
    (await core.listNode({ labelSelector: "trustgate.io/validated=true" })).items.length;
  while ((await validated()) < HOSTS) await new Promise((r) => setTimeout(r, 250));

  const tls = {
    ca: cp.caCertPem,
    cert: await readFile(join(dir, "pki/admin.crt"), "utf8"),
    key: await readFile(join(dir, "pki/admin.key"), "utf8"),
  };
  const before = await writeCounts(cp.server, tls);
  const started = performance.now();
  const names = Array.from({ length: CVMS }, (_, i) => `cvm-${String(i).padStart(4, "0")}`);
  await inBatches(names, 50, (name) =>
    objects.createNamespacedCustomObject({
      ...trustgate,
      namespace: NS,
      plural: "confidentialvms",
      body: {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialVM",
        metadata: { name, namespace: NS },
        spec: {
          tee: "tdx",
          policyRef: "bench",
          image: { containerDisk: `registry.example.com/cvm@sha256:${"4f".repeat(32)}` },
          gpus: { count: 1 },
        },
      },
    }),
  );
  let attesting = 0;
  while (attesting < CVMS) {
    await new Promise((r) => setTimeout(r, 500));
    const list = (await objects.listNamespacedCustomObject({
      ...trustgate,
      namespace: NS,
      plural: "confidentialvms",
    })) as { items: ConfidentialVM[] };
    attesting = list.items.filter((c) => c.status?.phase === "Attesting").length;
    process.stderr.write(
      `\r${attesting}/${CVMS} Attesting after ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  const after = await writeCounts(cp.server, tls);
  const delta = (k: string): number => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  // Every write in the window is the controller's except the benchmark's own CVM creates, the simulator's
  // (it plays virt-controller: VMIs, VM status) and the API server's own Lease renewals. Guest identities
  // (ServiceAccount, Role, RoleBinding, Secrets, TokenRequest) count.
  const notTheController = ["virtualmachineinstances/", "virtualmachines/status", "leases/"];
  const breakdown: Record<string, number> = {};
  for (const key of new Set([...after.keys(), ...before.keys()])) {
    const n = delta(key) - (key === "confidentialvms/" ? CVMS : 0);
    if (n > 0 && !notTheController.some((k) => key.startsWith(k))) breakdown[key] = n;
  }
  const controllerWrites = Object.values(breakdown).reduce((a, b) => a + b, 0);
  const rss = await peakRssMb(controller.pid);
  if (process.env["BENCH_HEAP_SNAPSHOT"] === "1") {
    process.kill(controller.pid, "SIGUSR2");
    await new Promise((r) => setTimeout(r, 15_000));
  }
  process.stderr.write("\n");
  console.log(
    JSON.stringify(
      {
        cvms: CVMS,
        hosts: HOSTS,
        controllerNodeFlags: nodeFlags,
        secondsToAllAttesting: Number(seconds.toFixed(1)),
        controllerPeakRssMb: Number(rss.toFixed(0)),
        writesPerCvm: Number((controllerWrites / CVMS).toFixed(2)),
        writesPerCvmExcludingEvents: Number(((controllerWrites - delta("events/")) / CVMS).toFixed(2)),
        writesPerCvmDeployPath: Number(
          (
            ((breakdown["confidentialvms/"] ?? 0) +
              (breakdown["confidentialvms/status"] ?? 0) +
              (breakdown["virtualmachines/"] ?? 0) +
              (breakdown["events/"] ?? 0)) /
            CVMS
          ).toFixed(2),
        ),
        breakdown,
        targets: { seconds: 60, rssMb: 250, writesPerCvm: 8 },
      },
      null,
      2,
    ),
  );
  await Promise.all([controller.stop(), simulator.stop()]);
} finally {
  await cp.stop();
  if (process.env["KEEP_BENCH_DIR"] === "1") console.error(`kept ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
