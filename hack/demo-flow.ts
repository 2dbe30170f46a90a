// make demo, steps 1 and 2 of the trust chain on the local control plane: agents for three fixture hosts,
// the controller, and the test-only KubeVirt simulator run in the background (pids in <cluster>/demo.pids,
// stopped by `make cluster-down`); then waits until the sample ConfidentialVM llm-inference is Attesting.
//   node hack/demo-flow.ts <cluster dir>
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { ConfidentialVM } from "../operator/src/api/v1alpha1/generated/types.ts";
import { applyCrds, readCrdFile } from "../operator/src/kube/crd-install.ts";
import { loadKubeConfig } from "../operator/src/kube/kubeconfig.ts";
import { applyManifestFile } from "../operator/test/support/apply.ts";
import {
  podBoundToken,
  serviceAccountToken,
  writeTokenKubeconfig,
} from "../operator/test/support/identities.ts";

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
console.log("# KubeVirt's VirtualMachine/VMI CRDs, agent and controller RBAC, the agent admission policy");
for (const crd of ["virtualmachines", "virtualmachineinstances"]) {
  await applyCrds(kc, await readCrdFile(join(ROOT, `hack/kubevirt/crds/${crd}.kubevirt.io.yaml`)), 60_000);
}
await core.createNamespace({ body: { metadata: { name: NS } } }).catch(() => undefined);
for (const file of ["rbac/agent.yaml", "rbac/controller.yaml", "admission/agent-node-restriction.yaml"]) {
  await applyManifestFile(kc, `charts/trustgate/files/${file}`);
}

const trustgate = join(ROOT, "bin/trustgate");
console.log("# Step 1: an agent per host (fixture host roots), each with a pod-bound token for its node");
for (const { node, fixture, labels } of HOSTS) {
  await core
    .createNode({ body: { metadata: { name: node, labels: { "kubernetes.io/hostname": node, ...labels } } } })
    .catch(async () => {
      await core.patchNode(
        { name: node, body: { metadata: { labels } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    });
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
background("controller", trustgate, [
  "controller",
  "--kubeconfig",
  controllerKc,
  "--metrics-bind-address",
  "127.0.0.1:0",
]);
background("kubevirt-simulator", process.execPath, [
  join(ROOT, "e2e/kubevirt-simulator/main.ts"),
  "--kubeconfig",
  join(clusterDir, "kubeconfig"),
  "--step-delay-ms",
  "500",
]);

const deadline = Date.now() + 120_000;
let last = "";
for (;;) {
  const cvm = (await objects.getNamespacedCustomObject({
    group: "trustgate.io",
    version: "v1alpha1",
    namespace: "default",
    plural: "confidentialvms",
    name: "llm-inference",
  })) as ConfidentialVM;
  const line = `  llm-inference: ${cvm.status?.phase ?? "(no status yet)"}${cvm.status?.nodeName === undefined ? "" : ` on ${cvm.status.nodeName}`} — ${cvm.status?.message ?? ""}`;
  if (line !== last) console.log(line);
  last = line;
  if (cvm.status?.phase === "Attesting") break;
  if (Date.now() > deadline) throw new Error(`llm-inference did not reach Attesting; logs in ${demoDir}`);
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.log(`Logs of the background processes: ${demoDir}`);
