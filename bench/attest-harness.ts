// Shared setup of the attestation benchmarks (bench/attest-latency.ts, bench/attest-scale.ts): a local control
// plane with trustgate installed the way the integration tests install it (CRDs, RBAC, admission policies),
// SEV-SNP hosts with 8 CC-mode H100s whose signed reports the benchmark publishes itself (no agent processes),
// the built controller trusting a simulated PKI, and the KubeVirt simulator.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
} from "@kubernetes/client-node";
import { mergePatch } from "../operator/src/kube/merge-patch.ts";
import { pino } from "pino";
import { parse } from "yaml";
import { type ControlPlane, startControlPlane } from "../hack/lib/control-plane.ts";
import { resolveBinDir } from "../hack/lib/find-binaries.ts";
import { type ManagedProcess, spawnManaged } from "../hack/lib/managed-process.ts";
import { loadOrCreateAgentKey, signHostReport } from "../operator/src/agent/signing.ts";
import type { ConfidentialHostStatus, ConfidentialVM } from "../operator/src/api/v1alpha1/generated/types.ts";
import { createSimPki, TRUST_ROOTS_FILE } from "../operator/src/attestation/simulated/sim-pki.ts";
import { loadKubeConfig } from "../operator/src/kube/kubeconfig.ts";
import { ResourceWatch } from "../operator/src/runtime/informer.ts";
import { installTrustgate } from "../operator/test/support/install.ts";
import { simulateVirtHandler } from "../operator/test/support/kubevirt/installation.ts";
import { OFFLINE_COLLATERAL } from "../operator/test/support/trustgate-process.ts";
import {
  anAttestationPolicy,
  SIMULATED_SNP_POLICY_SPEC,
} from "../operator/test/support/builders/attestation-policy.ts";

export const NS = "bench-attest";
export const POLICY = "bench-attest";
export const GPUS_PER_HOST = 8;
const ROOT = new URL("..", import.meta.url).pathname;
const BUILT_MAIN = join(ROOT, "dist/operator/src/cmd/main.js");
const trustgate = { group: "trustgate.io", version: "v1alpha1" };

export interface BenchCluster {
  /** The etcd and kube-apiserver under the cluster (to restart them in the chaos benchmarks). */
  controlPlane: ControlPlane;
  dir: string;
  kc: KubeConfig;
  kubeconfigPath: string;
  simPki: string;
  /** The control plane's processes, to report their CPU time beside the controller's. */
  pids: { apiserver: number; etcd: number };
  server: string;
  caCertPem: string;
  stop(): Promise<void>;
}

/** PCI addresses of a bench host's GPUs (as its signed report lists them). */
export function gpuAddresses(): string[] {
  return Array.from({ length: GPUS_PER_HOST }, (_, g) => `0000:${(0x18 + g * 0x10).toString(16)}:00.0`);
}

/** A validated host's report: 8 CC-ready H100s behind vfio-pci, the given TEE enabled. */
export function benchHostStatus(name: string, tee: "snp" | "tdx"): ConfidentialHostStatus {
  const platform =
    tee === "snp"
      ? { cpuVendor: "amd" as const, biosVersion: "1.0", microcode: "0xa101144", systemProduct: name }
      : { cpuVendor: "intel" as const, biosVersion: "2.1", microcode: "0x2b000603", systemProduct: name };
  return {
    observedAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    agentVersion: "bench",
    platform,
    tee: { type: tee, enabled: true },
    iommu: { enabled: true, vfioLoaded: true },
    gpus: gpuAddresses().map((pciAddress, g) => ({
      pciAddress,
      vendorId: "0x10de",
      deviceId: "0x2330",
      model: "H100-SXM5-80GB",
      driver: "vfio-pci",
      iommuGroup: String(40 + g),
      ccMode: "on" as const,
      iommuGroupViable: true,
    })),
    gpuSummary: { total: GPUS_PER_HOST, ccReady: GPUS_PER_HOST },
  };
}

export async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** The kernel's high-water mark of a process's resident set, in MB. */
export async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU time (user + system) a process has used so far, in seconds (Linux clock ticks of 10 ms). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A control plane with trustgate installed, a simulated PKI and the benchmark's AttestationPolicy. */
export async function startBenchCluster(dirPrefix = "trustgate-bench-attest-"): Promise<BenchCluster> {
  const dir = await mkdtemp(join(tmpdir(), dirPrefix));
  const cp = await startControlPlane({ binDir: await resolveBinDir(), dir });
  const kc = loadKubeConfig(cp.kubeconfigPath);
  await installTrustgate(kc, { kubevirt: true, namespaces: [NS] });
  const simPki = join(dir, "sim-pki");
  await createSimPki(simPki);
  await kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({
    ...trustgate,
    plural: "attestationpolicies",
    // No RIM service or OCSP responder offline: SPDM signatures, device chains, nonces, the SNP report and
    // the binding are verified; measurements and revocation stay "unchecked".
    body: anAttestationPolicy(POLICY, SIMULATED_SNP_POLICY_SPEC),
  });
  return {
    controlPlane: cp,
    dir,
    kc,
    kubeconfigPath: cp.kubeconfigPath,
    simPki,
    pids: { apiserver: cp.apiserverPid, etcd: cp.etcdPid },
    server: cp.server,
    caCertPem: cp.caCertPem,
    async stop() {
      await cp.stop();
      if (process.env["KEEP_BENCH_DIR"] === "1") console.error(`kept ${dir}`);
      else await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Nodes and their ConfidentialHosts with signed SNP reports of 8 CC-ready H100s each. */
export async function addSnpHosts(cluster: BenchCluster, names: readonly string[]): Promise<void> {
  const core = cluster.kc.makeApiClient(CoreV1Api);
  const objects = cluster.kc.makeApiClient(CustomObjectsApi);
  const key = (await loadOrCreateAgentKey(join(cluster.dir, "bench-agent.jwk"))).key;
  await inBatches(names, 25, async (name) => {
    await core.createNode({ body: { metadata: { name, labels: { "kubernetes.io/hostname": name } } } });
    await objects.createClusterCustomObject({
      ...trustgate,
      plural: "confidentialhosts",
      body: { apiVersion: "trustgate.io/v1alpha1", kind: "ConfidentialHost", metadata: { name }, spec: {} },
    });
    const status = await signHostReport(name, benchHostStatus(name, "snp"), key);
    await simulateVirtHandler(cluster.kc, name, { tee: "snp", gpus: status.gpus ?? [] });
    await objects.patchClusterCustomObjectStatus(
      { ...trustgate, plural: "confidentialhosts", name, body: { status } },
      mergePatch,
    );
  });
}

export async function waitForValidatedHosts(cluster: BenchCluster, count: number): Promise<void> {
  const core = cluster.kc.makeApiClient(CoreV1Api);
  while ((await core.listNode({ labelSelector: "trustgate.io/validated=true" })).items.length < count)
    await new Promise((r) => setTimeout(r, 250));
}

/**
 * The built controller (`make build`), as the chart runs it (its NODE_OPTIONS: V8 heap sizes, unless
 * BENCH_NODE_FLAGS), with admin credentials, trusting the simulated roots.
 */
export async function startController(
  cluster: BenchCluster,
  logLevel: string,
  extraArgs: readonly string[] = [],
): Promise<ManagedProcess> {
  if (!existsSync(BUILT_MAIN))
    throw new Error("run `make build` first: the benchmark measures the built controller");
  const chartValues = parse(await readFile(join(ROOT, "charts/trustgate/values.yaml"), "utf8")) as {
    controller?: { nodeOptions?: string };
  };
  const nodeFlags = process.env["BENCH_NODE_FLAGS"] ?? chartValues.controller?.nodeOptions ?? "";
  process.env["LOG_LEVEL"] = logLevel;
  // As the chart's controller Deployment sets it.
  process.env["MALLOC_ARENA_MAX"] = "2";
  return spawnManaged(
    "controller",
    process.execPath,
    [
      ...nodeFlags.split(" ").filter((f) => f !== ""),
      BUILT_MAIN,
      ...["controller", "--kubeconfig", cluster.kubeconfigPath, "--metrics-bind-address", "0"],
      ...OFFLINE_COLLATERAL,
      ...["--test-trust-roots", join(cluster.simPki, TRUST_ROOTS_FILE)],
      // The benchmark signs each host's report once (no agents republish): keep them Validated for the run.
      ...["--host-stale-after", "24h"],
      ...extraArgs,
    ],
    join(cluster.dir, "controller.log"),
  );
}

/**
 * The KubeVirt simulator: VMIs created Running (one write per VMI), or stepping through their phases
 * `stepDelayMs` apart, as a VM takes a while to boot.
 */
export function startSimulator(
  cluster: BenchCluster,
  vmi: { startRunning: true } | { stepDelayMs: number },
): ManagedProcess {
  return spawnManaged(
    "simulator",
    process.execPath,
    [
      join(ROOT, "e2e/kubevirt-simulator/main.ts"),
      ...["--kubeconfig", cluster.kubeconfigPath],
      ...("startRunning" in vmi ? ["--start-running"] : ["--step-delay-ms", String(vmi.stepDelayMs)]),
    ],
    join(cluster.dir, "simulator.log"),
  );
}

/** Signed hosts, the built controller and the KubeVirt simulator: what the attestation benchmarks run against. */
export async function startAttestationBench(
  cluster: BenchCluster,
  hosts: readonly string[],
  options: { logLevel: string; vmi: Parameters<typeof startSimulator>[1]; controllerArgs?: string[] },
): Promise<{ controller: ManagedProcess; simulator: ManagedProcess }> {
  await addSnpHosts(cluster, hosts);
  const controller = await startController(cluster, options.logLevel, options.controllerArgs);
  return { controller, simulator: startSimulator(cluster, options.vmi) };
}

/** `trustgate guest` built (as in the CVM image) with the given arguments. */
export function startBuiltTrustgate(cluster: BenchCluster, name: string, args: string[]): ManagedProcess {
  return spawnManaged(name, process.execPath, [BUILT_MAIN, ...args], join(cluster.dir, `${name}.log`));
}

export function snpCvm(name: string, node?: string): object {
  return {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "ConfidentialVM",
    metadata: { name, namespace: NS },
    spec: {
      tee: "snp",
      policyRef: POLICY,
      image: { containerDisk: `registry.example.com/cvm@sha256:${"4f".repeat(32)}` },
      gpus: { count: GPUS_PER_HOST },
      ...(node === undefined ? {} : { nodeSelector: { "kubernetes.io/hostname": node } }),
    },
  };
}

export async function createCvm(cluster: BenchCluster, body: object): Promise<void> {
  await cluster.kc
    .makeApiClient(CustomObjectsApi)
    .createNamespacedCustomObject({ ...trustgate, namespace: NS, plural: "confidentialvms", body });
}

/** A watch of the benchmark namespace's ConfidentialVMs, calling `onChange` with each new version. */
export async function watchCvms(
  cluster: BenchCluster,
  onChange: (cvm: ConfidentialVM) => void,
  /** How soon the watch reconnects after the API server went away (ResourceWatch's backoff; default 30 s at most). */
  reconnect: { maxRestartDelayMs?: number } = {},
): Promise<ResourceWatch<ConfidentialVM>> {
  const objects = cluster.kc.makeApiClient(CustomObjectsApi);
  const watch = new ResourceWatch<ConfidentialVM>({
    kc: cluster.kc,
    path: `/apis/trustgate.io/v1alpha1/namespaces/${NS}/confidentialvms`,
    list: () =>
      objects.listNamespacedCustomObject({
        ...trustgate,
        namespace: NS,
        plural: "confidentialvms",
      }) as Promise<KubernetesListObject<ConfidentialVM>>,
    log: pino({ level: "silent" }),
    ...(reconnect.maxRestartDelayMs === undefined ? {} : { maxRestartDelayMs: reconnect.maxRestartDelayMs }),
    onEvent: (event, cvm) => {
      if (event !== "delete") onChange(cvm);
    },
  });
  await watch.start();
  await watch.synced();
  return watch;
}

export function isAttested(cvm: ConfidentialVM): boolean {
  return cvm.status?.conditions?.some((c) => c.type === "Attested" && c.status === "True") ?? false;
}
