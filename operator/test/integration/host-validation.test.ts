import { expect } from "chai";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Node } from "@kubernetes/client-node";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import type { ManagedProcess } from "../../../hack/lib/managed-process.ts";
import type { ConfidentialHost } from "../../src/api/v1alpha1/generated/types.ts";
import { waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { writeServiceAccountKubeconfig } from "../support/identities.ts";
import { removeHosts } from "../support/hosts.ts";
import { installTrustgate, startFixtureAgent } from "../support/install.ts";
import { readConfidentialHost } from "../support/read.ts";
import { REPO_ROOT } from "../support/samples.ts";
import { OFFLINE_COLLATERAL, startTrustgate } from "../support/trustgate-process.ts";

const NS = "trustgate-system";
const FIXTURES = join(REPO_ROOT, "operator/test/fixtures/hosts");
/** startFixtureAgent's default `--interval`. */
const AGENT_INTERVAL_MS = 1000;
const hostRef = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialhosts" };
const NODES = [
  { node: "hv-tdx-1", fixture: "tdx-8xh100" },
  { node: "hv-snp-1", fixture: "snp-genoa-4xh100" },
  { node: "hv-iommu-off", fixture: "iommu-off" },
];

describe("host validation: agents as processes, the controller labels Nodes (real API server, real RBAC)", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  let dir: string;
  const processes: ManagedProcess[] = [];

  const host = (name: string): Promise<ConfidentialHost | undefined> => readConfidentialHost(admin, name);

  async function node(name: string): Promise<V1Node> {
    return admin.makeApiClient(CoreV1Api).readNode({ name });
  }

  function validated(h: ConfidentialHost | undefined): { status?: string; message?: string } {
    const c = h?.status?.conditions?.find((x) => x.type === "Validated");
    return { status: c?.status, message: c?.message };
  }

  before(async function () {
    admin = await kubeConfig();
    dir = await makeTempDir("trustgate-hosts-");
    await installTrustgate(admin);
    const controllerKc = await writeServiceAccountKubeconfig(admin, NS, "trustgate-controller", dir);
    processes.push(
      startTrustgate(
        "controller",
        [
          "controller",
          ...OFFLINE_COLLATERAL,
          "--kubeconfig",
          controllerKc,
          "--host-stale-after",
          "30s",
          "--metrics-bind-address",
          "127.0.0.1:0",
          "--leader-elect",
          "--leader-election-namespace",
          NS,
        ],
        dir,
      ),
    );
    for (const host of NODES) processes.push((await startFixtureAgent(admin, host, dir)).process);
  });

  after(async function () {
    await Promise.all(processes.map((p) => p.stop()));
    await removeHosts(
      admin,
      NODES.map((n) => n.node),
    );
  });

  it("each agent creates its own ConfidentialHost with a signed report", async function () {
    for (const { node: name } of NODES) {
      await waitUntil(
        `ConfidentialHost ${name}`,
        async () => (await host(name))?.status?.report !== undefined,
        30_000,
      );
    }
    const tdx = await host("hv-tdx-1");
    expect(tdx?.status?.tee).to.include({ type: "tdx", enabled: true });
    expect(tdx?.status?.gpuSummary).to.deep.include({
      total: 8,
      ccReady: 8,
      mode: "on",
      ccModeSource: "file",
    });
  });

  it("validates the TDX and SNP hosts and labels their Nodes; refuses the IOMMU-off host with its reason", async function () {
    await waitUntil(
      "hv-tdx-1 validated and labelled",
      async () => (await node("hv-tdx-1")).metadata?.labels?.["trustgate.io/validated"] === "true",
      30_000,
    );
    await waitUntil(
      "hv-snp-1 validated and labelled",
      async () => (await node("hv-snp-1")).metadata?.labels?.["trustgate.io/validated"] === "true",
      30_000,
    );
    await waitUntil(
      "hv-iommu-off refused",
      async () => validated(await host("hv-iommu-off")).status === "False",
      30_000,
    );
    // The Node label is a separate write after the status: wait for it too (a CI flake under load).
    await waitUntil(
      "hv-iommu-off labelled validated=false",
      async () => (await node("hv-iommu-off")).metadata?.labels?.["trustgate.io/validated"] === "false",
      30_000,
    );

    const labels = (await node("hv-tdx-1")).metadata?.labels ?? {};
    expect(labels).to.include({
      "trustgate.io/tee": "tdx",
      "trustgate.io/gpu-cc": "on",
      "trustgate.io/gpu-count": "8",
    });
    expect((await node("hv-snp-1")).metadata?.labels).to.include({
      "trustgate.io/tee": "snp",
      "trustgate.io/gpu-count": "4",
    });
    expect(validated(await host("hv-iommu-off")).message).to.include("IOMMU disabled");
    expect((await host("hv-tdx-1"))?.metadata.annotations?.["trustgate.io/pinned-key-id"]).to.be.a("string");
  });

  it("flips Validated and the Node label within one interval when a GPU's CC mode turns off", async function () {
    const gpu = "0000:ab:00.0";
    const ccModeFile = "etc/trustgate/cc-mode.json";
    const ccOff = await readFile(join(FIXTURES, "tdx-8xh100-gpu-cc-off", ccModeFile), "utf8");
    const started = Date.now();
    await writeFile(join(dir, "hv-tdx-1", ccModeFile), ccOff);
    await waitUntil(
      "hv-tdx-1 label validated=false",
      async () => (await node("hv-tdx-1")).metadata?.labels?.["trustgate.io/validated"] === "false",
      30_000,
    );
    const elapsed = Date.now() - started;
    const h = await host("hv-tdx-1");
    expect(validated(h).message).to.include(`GPU ${gpu} CC mode off`);
    expect((await node("hv-tdx-1")).metadata?.labels).to.include({
      "trustgate.io/gpu-cc": "mixed",
      "trustgate.io/gpu-count": "7",
    });
    expect(elapsed, "label removed within about one agent interval plus a reconcile").to.be.below(10_000);
  });

  it("writes nothing while nothing changes (agent and controller), between the agent's refreshes", async function () {
    // The agent rewrites an unchanged report every 10 intervals (--max-report-age default) so observedAt stays
    // fresh: the quiet window is placed after a refresh, never across one.
    const window = 3500;
    const refreshDue = async () =>
      Date.parse((await host("hv-iommu-off"))?.status?.observedAt ?? "") + 10 * AGENT_INTERVAL_MS;
    const due = await refreshDue();
    if (Date.now() + window + 1000 > due) {
      await waitUntil("the agent's refresh", async () => (await refreshDue()) > due, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const before = (await host("hv-iommu-off"))?.metadata.resourceVersion;
    await new Promise((resolve) => setTimeout(resolve, window));
    expect((await host("hv-iommu-off"))?.metadata.resourceVersion, "3 agent intervals later").to.equal(
      before,
    );
  });

  it("refuses a host whose agent key changed until an admin acknowledges the new key", async function () {
    const name = "hv-iommu-off";
    const pinned = (await host(name))?.metadata.annotations?.["trustgate.io/pinned-key-id"];
    expect(pinned).to.be.a("string");
    const old = processes.find((p) => p.name === `agent-${name}`);
    await old?.stop();
    const kc = join(dir, `${name}.kubeconfig`);
    processes.push(
      startTrustgate(
        `agent-${name}-new-key`,
        [
          "agent",
          "--node-name",
          name,
          "--host-root",
          join(dir, name),
          "--key-file",
          join(dir, `${name}-new.jwk`),
          "--interval",
          "1s",
          "--kubeconfig",
          kc,
        ],
        dir,
      ),
    );
    await waitUntil(
      "key change detected",
      async () => validated(await host(name)).message?.includes("agent key changed") === true,
      30_000,
    );
    const current = (await host(name))?.status?.report?.keyId ?? "";
    expect(current).to.not.equal(pinned);
    expect(validated(await host(name)).message).to.include(
      `acknowledge with annotation trustgate.io/acknowledged-key-id=${current}`,
    );
    await admin.makeApiClient(CustomObjectsApi).patchClusterCustomObject(
      {
        ...hostRef,
        name,
        body: { metadata: { annotations: { "trustgate.io/acknowledged-key-id": current } } },
      },
      mergePatch,
    );
    // The pin (metadata) and the condition (status subresource) are two writes: wait for both.
    await waitUntil(
      "new key pinned and the host validated again",
      async () => {
        const h = await host(name);
        return (
          h?.metadata.annotations?.["trustgate.io/pinned-key-id"] === current &&
          validated(h).message?.includes("agent key changed") === false
        );
      },
      30_000,
    );
    // Back to being judged on its report alone: this fixture host has the IOMMU off.
    expect(validated(await host(name)).message).to.match(/iommu/i);
  });

  it("removes only its own labels when a host goes away", async function () {
    await admin
      .makeApiClient(CoreV1Api)
      .patchNode(
        { name: "hv-snp-1", body: { metadata: { labels: { "team.example.com/owner": "ml" } } } },
        mergePatch,
      );
    const agent = processes.find((p) => p.name === "agent-hv-snp-1");
    await agent?.stop();
    await admin.makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ ...hostRef, name: "hv-snp-1" });
    await waitUntil(
      "hv-snp-1 labels removed",
      async () => (await node("hv-snp-1")).metadata?.labels?.["trustgate.io/validated"] === undefined,
      30_000,
    );
    const labels = (await node("hv-snp-1")).metadata?.labels ?? {};
    expect(Object.keys(labels).filter((k) => k.startsWith("trustgate.io/"))).to.deep.equal([]);
    expect(labels).to.include({ "kubernetes.io/hostname": "hv-snp-1", "team.example.com/owner": "ml" });
  });
});
