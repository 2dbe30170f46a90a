// make demo, the three steps of the trust chain on the local control plane: agents for three fixture hosts,
// simulated Intel PCS and AMD KDS over HTTPS, the controller (fetching the collateral guests do not send from
// them), the test-only KubeVirt simulator and guests with a simulated SEV-SNP or TDX TEE and GPUs run in the
// background (pids in <cluster>/demo.pids, stopped by `make cluster-down`). Ends with an Attested SNP and TDX CVM.
//   node hack/demo-flow.ts <cluster dir>
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { mergePatch } from "../operator/src/kube/merge-patch.ts";
import type { ConfidentialVM } from "../operator/src/api/v1alpha1/generated/types.ts";
import { createSimPki, TRUST_ROOTS_FILE } from "../operator/src/attestation/simulated/sim-pki.ts";
import { SIMULATED_SNP_MEASUREMENT } from "../operator/src/attestation/simulated/simulated-snp.ts";
import {
  fixtureHardware,
  installKubevirt,
  simulateVirtHandler,
} from "../operator/test/support/kubevirt/installation.ts";
import { loadKubeConfig } from "../operator/src/kube/kubeconfig.ts";
import { applyManifestFile, waitUntil } from "../operator/test/support/apply.ts";
import { chartWebhookConfiguration, WEBHOOK_CONFIGURATION } from "../operator/test/support/webhook.ts";
import { apiErrorStatus } from "../operator/src/kube/api-error.ts";
import { freeLoopbackPorts } from "./lib/managed-process.ts";
import {
  guestFilesFromCloudInit,
  simulatedGuestArgs,
} from "../operator/test/support/guest-from-cloud-init.ts";
import {
  podBoundToken,
  serviceAccountToken,
  writeTokenKubeconfig,
} from "../operator/test/support/identities.ts";
import { anAttestationPolicy } from "../operator/test/support/builders/attestation-policy.ts";
import { SIMULATED_TDX_MRTD } from "../operator/src/attestation/simulated/simulated-tdx.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const clusterDir = process.argv[2] ?? join(ROOT, ".cache/cluster");
const demoDir = join(clusterDir, "demo");
const NS = "trustgate-system";
const HOSTS = [
  { node: "gpu-node-1", fixture: "tdx-8xh100", labels: { "topology.kubernetes.io/zone": "colo-a" } },
  { node: "gpu-node-2", fixture: "snp-genoa-4xh100", labels: { "topology.kubernetes.io/zone": "colo-a" } },
  {
    node: "gpu-node-3",
    fixture: "tdx-8xh100-gpu-cc-off",
    labels: { "topology.kubernetes.io/zone": "colo-b" },
  },
];

const kc = loadKubeConfig(join(clusterDir, "kubeconfig"));
const core = kc.makeApiClient(CoreV1Api);
const objects = kc.makeApiClient(CustomObjectsApi);
const pids: number[] = [];

function background(name: string, command: string, args: string[]): void {
  const log = openSync(join(demoDir, `${name}.log`), "a");
  const child = spawn(command, args, { detached: true, stdio: ["ignore", log, log] });
  child.unref();
  if (child.pid !== undefined) pids.push(child.pid);
  writeFileSync(join(clusterDir, "demo.pids"), `${pids.join("\n")}\n`);
}

rmSync(demoDir, { recursive: true, force: true });
mkdirSync(demoDir, { recursive: true });
console.log(
  "# KubeVirt's CRDs and the KubeVirt CR of docs/examples/kubevirt.yaml, the chart's RBAC and admission policies",
);
await installKubevirt(kc);
await core.createNamespace({ body: { metadata: { name: NS } } }).catch(() => undefined);
for (const file of [
  "rbac/agent.yaml",
  "rbac/controller.yaml",
  "rbac/webhook.yaml",
  "admission/agent-node-restriction.yaml",
  "admission/guest-status-restriction.yaml",
]) {
  await applyManifestFile(kc, `charts/trustgate/files/${file}`);
}

const trustgate = join(ROOT, "bin/trustgate");
console.log("# Step 1: an agent per host (fixture host roots), each with a pod-bound token for its node");
for (const { node, fixture, labels } of HOSTS) {
  await core
    .createNode({ body: { metadata: { name: node, labels: { "kubernetes.io/hostname": node, ...labels } } } })
    .catch(async () => {
      await core.patchNode({ name: node, body: { metadata: { labels } } }, mergePatch);
    });
  // What virt-handler and NVIDIA's GPU device plugin would publish on the Node (no KubeVirt runs here).
  await simulateVirtHandler(kc, node, await fixtureHardware(fixture));
  const root = join(demoDir, "hosts", node);
  cpSync(join(ROOT, "operator/test/fixtures/hosts", fixture), root, {
    recursive: true,
    verbatimSymlinks: true,
  });
  const agentKc = await writeTokenKubeconfig(
    kc,
    await podBoundToken(kc, NS, "trustgate-agent", node),
    join(demoDir, `${node}.kubeconfig`),
  );
  background(`agent-${node}`, trustgate, [
    "agent",
    "--node-name",
    node,
    "--host-root",
    root,
    "--key-file",
    join(demoDir, `${node}.jwk`),
    "--interval",
    "5s",
    "--kubeconfig",
    agentKc,
  ]);
  console.log(`  agent on ${node} (${fixture})`);
}

console.log("# Step 2: the controller (its ServiceAccount's RBAC only) and the test-only KubeVirt simulator");
const controllerKc = await writeTokenKubeconfig(
  kc,
  await serviceAccountToken(kc, NS, "trustgate-controller"),
  join(demoDir, "controller.kubeconfig"),
);
const simPki = join(demoDir, "sim-pki");
await createSimPki(simPki);
const collateralUrlFile = join(demoDir, "collateral-services.url");
const collateralCaFile = join(demoDir, "collateral-services-ca.pem");
background("collateral-services", process.execPath, [
  join(ROOT, "hack/sim-collateral-services.ts"),
  ...["--pki", simPki, "--url-file", collateralUrlFile, "--ca-file", collateralCaFile],
]);
await waitUntil(
  "the simulated Intel PCS and AMD KDS",
  () => Promise.resolve(existsSync(collateralUrlFile)),
  30_000,
);
const collateralUrl = readFileSync(collateralUrlFile, "utf8").trim();
console.log(`  simulated Intel PCS (as a PCCS) and AMD KDS at ${collateralUrl}`);
background("controller", trustgate, [
  "controller",
  // Collateral the guests do not send comes from the simulated Intel PCS and AMD KDS, over HTTPS.
  ...["--pccs-url", collateralUrl, "--amd-kds-url", collateralUrl, "--collateral-ca-file", collateralCaFile],
  ...["--collateral-cache-dir", join(demoDir, "collateral-cache")],
  "--kubeconfig",
  controllerKc,
  "--metrics-bind-address",
  "127.0.0.1:0",
  // The demo's guest runs a simulated SEV-SNP TEE and GPUs signed by a test PKI: trusted here only.
  "--test-trust-roots",
  join(simPki, TRUST_ROOTS_FILE),
]);
background("kubevirt-simulator", process.execPath, [
  join(ROOT, "e2e/kubevirt-simulator/main.ts"),
  "--kubeconfig",
  join(clusterDir, "kubeconfig"),
  "--step-delay-ms",
  "500",
]);

console.log("# The admission webhook (chart configuration, pointed at 127.0.0.1; self-managed certificate)");
const [webhookPort, webhookMetricsPort] = (await freeLoopbackPorts(2)) as [number, number];
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
await admission.deleteValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION }).catch(() => undefined);
await admission.createValidatingWebhookConfiguration({ body: await chartWebhookConfiguration(webhookPort) });
const webhookKc = await writeTokenKubeconfig(
  kc,
  await serviceAccountToken(kc, NS, "trustgate-webhook"),
  join(demoDir, "webhook.kubeconfig"),
);
background("webhook", trustgate, [
  ...["webhook", "--kubeconfig", webhookKc, "--namespace", NS, "--tls-san", "127.0.0.1"],
  ...["--bind-address", `127.0.0.1:${String(webhookPort)}`],
  ...["--metrics-bind-address", `127.0.0.1:${String(webhookMetricsPort)}`],
]);
await waitUntil(
  "the webhook to be ready",
  async () => {
    const response = await fetch(`http://127.0.0.1:${String(webhookMetricsPort)}/readyz`).catch(
      () => undefined,
    );
    await response?.text();
    return response?.status === 200;
  },
  60_000,
);
console.log(`  serving https://127.0.0.1:${String(webhookPort)} (JWKS at /.well-known/jwks.json)`);

async function getCvm(name: string): Promise<ConfidentialVM> {
  return (await objects.getNamespacedCustomObject({
    group: "trustgate.io",
    version: "v1alpha1",
    namespace: "default",
    plural: "confidentialvms",
    name,
  })) as ConfidentialVM;
}

async function follow(name: string, done: (cvm: ConfidentialVM) => boolean): Promise<ConfidentialVM> {
  const deadline = Date.now() + 120_000;
  let last = "";
  for (;;) {
    const cvm = await getCvm(name);
    const attested = cvm.status?.conditions?.find((c) => c.type === "Attested");
    const line = `  ${name}: ${cvm.status?.phase ?? "(no status yet)"}${cvm.status?.nodeName === undefined ? "" : ` on ${cvm.status.nodeName}`} — ${attested?.status === undefined ? (cvm.status?.message ?? "") : `Attested=${attested.status} ${attested.reason}`}`;
    if (line !== last) console.log(line);
    last = line;
    if (done(cvm)) return cvm;
    if (Date.now() > deadline) throw new Error(`${name} did not get there; logs in ${demoDir}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

await follow(
  "llm-inference",
  (cvm) => cvm.status?.phase !== undefined && ["Attesting", "Attested"].includes(cvm.status.phase),
);

console.log(
  "# Step 3: a CVM whose guest answers the challenge (simulated SEV-SNP TEE + 2 GPUs) and gets its secret",
);
await core
  .createNamespacedSecret({
    namespace: "default",
    body: { metadata: { name: "demo-model-key" }, stringData: { key: "demo-secret" } },
  })
  .catch(() => undefined);
const IMAGE = `registry.example.com/trustgate/cvm-ubuntu-24.04@sha256:${"9b".repeat(32)}`;
const attestedNow = (cvm: ConfidentialVM): boolean =>
  cvm.status?.phase === "Attested" &&
  cvm.status.conditions?.some((c) => c.type === "Attested" && c.status === "True") === true;

/**
 * Creates a policy and a CVM under it, waits for its challenge, starts its simulated guest from what the controller
 * put into the VM's cloud-init (API server, CA, its CVM, its token) and follows it until Attested.
 */
async function attestSimulatedCvm(
  name: string,
  policy: Parameters<typeof anAttestationPolicy>,
  spec: Record<string, unknown>,
): Promise<{ cvm: ConfidentialVM; secretsDir: string }> {
  await objects
    .createClusterCustomObject({
      group: "trustgate.io",
      version: "v1alpha1",
      plural: "attestationpolicies",
      body: anAttestationPolicy(...policy),
    })
    .catch(() => undefined);
  await objects
    .createNamespacedCustomObject({
      group: "trustgate.io",
      version: "v1alpha1",
      namespace: "default",
      plural: "confidentialvms",
      body: {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialVM",
        metadata: { name, namespace: "default" },
        spec: { policyRef: policy[0], image: { containerDisk: IMAGE }, ...spec },
      },
    })
    .catch(() => undefined);
  await follow(name, (cvm) => cvm.status?.challenge !== undefined || cvm.status?.attestation !== undefined);
  const files = await guestFilesFromCloudInit(kc, "default", name, join(demoDir, `guest-${name}`));
  background(`guest-${name}`, trustgate, simulatedGuestArgs(files, simPki));
  return { cvm: await follow(name, attestedNow), secretsDir: files.secretsDir };
}

// GPU checks at their defaults (RIM match and revocation required): the simulated GPUs carry RIMs signed by the
// simulated CoRIM root and the simulated PKI answers OCSP, all trusted only via --test-trust-roots.
const snp = await attestSimulatedCvm(
  "demo-attested",
  ["demo-simulated", { snp: { measurement: [SIMULATED_SNP_MEASUREMENT] } }],
  { tee: "snp", gpus: { count: 2 }, secrets: [{ name: "demo-model-key" }] },
);
writeFileSync(join(demoDir, "demo-attested.jwt"), snp.cvm.status?.attestation?.token ?? "");
console.log(
  `  signed result: ${join(demoDir, "demo-attested.jwt")} (check it: ./bin/trustgate verify-token @${join(demoDir, "demo-attested.jwt")} --jwks <(kubectl get cm -n ${NS} trustgate-jwks -o jsonpath='{.data.jwks\\.json}'))`,
);
console.log(`  secret released to the guest only: ${join(snp.secretsDir, "demo-model-key/key")}`);

console.log(
  "# Step 3 for TDX: a TD whose guest sends its quote alone; the controller fetches Intel's collateral",
);
const td = await attestSimulatedCvm(
  "demo-attested-tdx",
  ["demo-simulated-tdx", { tdx: { mrTd: [SIMULATED_TDX_MRTD] } }],
  { tee: "tdx", gpus: { count: 1 } },
);
console.log(
  `  TCB status ${td.cvm.status?.attestation?.tee?.tcbStatus ?? "?"}; collateral log: ${join(demoDir, "collateral-services.log")}`,
);

console.log("# Admission: workloads that need an attested CVM (label trustgate.io/requires-attested-vm)");
async function tryPod(name: string, cvm: string): Promise<void> {
  // The API server calls the webhook as soon as it has loaded the configuration; until then, retry.
  for (let attempt = 0; ; attempt++) {
    try {
      await core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name, labels: { app: name, "trustgate.io/requires-attested-vm": cvm } },
          spec: { containers: [{ name: "app", image: "registry.example.com/inference:1" }] },
        },
      });
      console.log(`  pod ${name} (needs ${cvm}): admitted`);
      return;
    } catch (error) {
      const message = apiErrorStatus(error)?.message ?? String(error);
      if (message.includes("failed calling webhook") && attempt < 20) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      console.log(`  pod ${name} (needs ${cvm}): refused: ${message}`);
      return;
    }
  }
}
await core.deleteNamespacedPod({ name: "inference-attested", namespace: "default" }).catch(() => undefined);
await tryPod("inference-attested", "demo-attested");
await tryPod("inference-unattested", "llm-inference");
console.log(`Logs of the background processes: ${demoDir}`);
