import { cp } from "node:fs/promises";
import { join } from "node:path";
import { type PickDevices, type SimulatedKubelet, startSimulatedKubelet } from "./simulated-kubelet.ts";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { ManagedProcess } from "../../../hack/lib/managed-process.ts";
import { applyCrds, readCrdFile } from "./crd-install.ts";
import { applyManifestFile } from "./apply.ts";
import { podBoundToken, writeTokenKubeconfig } from "./identities.ts";
import { REPO_ROOT } from "./samples.ts";
import { startTrustgate } from "./trustgate-process.ts";
import { fixtureHardware, installKubevirt, simulateVirtHandler } from "./kubevirt/installation.ts";

export const SYSTEM_NS = "trustgate-system";

/**
 * What a suite needs of trustgate in the shared API server: the three CRDs, optionally KubeVirt (its
 * VM/VMI/KubeVirt CRDs and the documented KubeVirt CR, deployed), its namespaces (plus trustgate-system),
 * the agent/controller RBAC and the agent and guest admission policies.
 */
export async function installTrustgate(
  kc: KubeConfig,
  options: { kubevirt?: boolean; namespaces?: string[] } = {},
): Promise<void> {
  for (const crd of ["confidentialhosts", "confidentialvms", "attestationpolicies"]) {
    await applyCrds(kc, await readCrdFile(join(REPO_ROOT, `crds/${crd}.trustgate.io.yaml`)));
  }
  if (options.kubevirt === true) await installKubevirt(kc);
  const core = kc.makeApiClient(CoreV1Api);
  for (const ns of [SYSTEM_NS, ...(options.namespaces ?? [])]) {
    await core.createNamespace({ body: { metadata: { name: ns } } }).catch(() => undefined);
  }
  for (const file of [
    "rbac/agent.yaml",
    "rbac/controller.yaml",
    "admission/agent-node-restriction.yaml",
    "admission/guest-status-restriction.yaml",
  ]) {
    await applyManifestFile(kc, `charts/trustgate/files/${file}`);
  }
}

/**
 * A Node and its agent as a real process on a copy of a fixture host root (so a test may change it),
 * authenticated with a pod-bound token for that node. With `virtHandler`, the Node also gets what KubeVirt's
 * virt-handler and NVIDIA's GPU device plugin would publish for the fixture's hardware. Returns the process
 * and the host root.
 */
export async function startFixtureAgent(
  kc: KubeConfig,
  host: { node: string; fixture: string; labels?: Record<string, string>; virtHandler?: boolean },
  dir: string,
  interval = "1s",
  /** The node's simulated kubelet device allocation (default: first free devices); false for none. */
  kubelet: { pick?: PickDevices } | false = {},
  /** How to run `trustgate agent` (from source by default; the built CLI in benchmarks), and more flags. */
  run: { spawn?: (name: string, args: string[], dir: string) => ManagedProcess; extraArgs?: string[] } = {},
): Promise<{
  process: ManagedProcess;
  root: string;
  kubelet?: SimulatedKubelet;
  /** Starts the agent again as it was (same host root, key and credentials), e.g. after a kill. */
  respawn: (name: string) => ManagedProcess;
}> {
  await kc.makeApiClient(CoreV1Api).createNode({
    body: { metadata: { name: host.node, labels: { "kubernetes.io/hostname": host.node, ...host.labels } } },
  });
  if (host.virtHandler === true)
    await simulateVirtHandler(kc, host.node, await fixtureHardware(host.fixture));
  const root = join(dir, host.node);
  await cp(join(REPO_ROOT, "operator/test/fixtures/hosts", host.fixture), root, {
    recursive: true,
    verbatimSymlinks: true,
  });
  const agentKc = await writeTokenKubeconfig(
    kc,
    await podBoundToken(kc, SYSTEM_NS, "trustgate-agent", host.node),
    join(dir, `${host.node}.kubeconfig`),
  );
  const args = [
    "agent",
    "--node-name",
    host.node,
    "--host-root",
    root,
    "--key-file",
    join(dir, `${host.node}.jwk`),
    "--interval",
    interval,
    "--kubeconfig",
    agentKc,
    ...(run.extraArgs ?? []),
  ];
  const simulated =
    kubelet === false
      ? undefined
      : await startSimulatedKubelet({ kc, node: host.node, hostRoot: root, ...kubelet });
  const spawn = run.spawn ?? startTrustgate;
  const process = spawn(`agent-${host.node}`, args, dir);
  if (simulated !== undefined) void process.exited.then(() => simulated.stop());
  return {
    process,
    root,
    ...(simulated === undefined ? {} : { kubelet: simulated }),
    respawn: (name) => spawn(name, args, dir),
  };
}
