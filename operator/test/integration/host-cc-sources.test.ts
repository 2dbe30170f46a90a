// Where a real node's GPU CC modes come from, end to end: agents as processes on fixture hosts with
// no /etc/trustgate files, NVIDIA k8s-cc-manager's labels on their Nodes, a cc-probe state file from
// another boot, and a protected-PCIe (PPCIe) board with 8 GPUs and 4 NVSwitches.
import { expect } from "chai";
import { CoreV1Api, type KubeConfig, type V1Node } from "@kubernetes/client-node";
import type { ManagedProcess } from "../../../hack/lib/managed-process.ts";
import type { ConfidentialHost } from "../../src/api/v1alpha1/generated/types.ts";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { removeHosts } from "../support/hosts.ts";
import { writeServiceAccountKubeconfig } from "../support/identities.ts";
import { installTrustgate, startFixtureAgent } from "../support/install.ts";
import { readConfidentialHost } from "../support/read.ts";
import { OFFLINE_COLLATERAL, startTrustgate } from "../support/trustgate-process.ts";

const NS = "trustgate-system";
const CC_MANAGER_ON = {
  "nvidia.com/cc.mode": "on",
  "nvidia.com/cc.mode.state": "on",
  "nvidia.com/cc.ready.state": "true",
};
const NODES = [
  { node: "cc-labels-1", fixture: "tdx-8xh100-cc-labels", labels: CC_MANAGER_ON },
  { node: "cc-other-boot-1", fixture: "tdx-8xh100-probe-other-boot" },
  { node: "cc-ppcie-1", fixture: "hgx-ppcie" },
  { node: "cc-ppcie-3of4", fixture: "hgx-ppcie-switch-off" },
];

describe("host validation from the CC mode sources of real nodes (agents as processes, real API server)", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  const processes: ManagedProcess[] = [];

  const host = (name: string): Promise<ConfidentialHost | undefined> => readConfidentialHost(admin, name);
  const node = (name: string): Promise<V1Node> => admin.makeApiClient(CoreV1Api).readNode({ name });
  const validated = (h: ConfidentialHost | undefined) => {
    const c = h?.status?.conditions?.find((x) => x.type === "Validated");
    return { status: c?.status, message: c?.message };
  };
  const label = async (name: string, key: string) => (await node(name)).metadata?.labels?.[key];

  before(async function () {
    admin = await kubeConfig();
    const dir = await makeTempDir("trustgate-cc-sources-");
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
        ],
        dir,
      ),
    );
    for (const spec of NODES) processes.push((await startFixtureAgent(admin, spec, dir)).process);
    for (const { node: name } of NODES)
      await waitUntil(
        `${name} judged and labelled`,
        async () =>
          validated(await host(name)).status !== undefined &&
          (await label(name, "trustgate.io/validated")) !== undefined,
        30_000,
      );
  });

  after(async function () {
    await Promise.all(processes.map((p) => p.stop()));
    await removeHosts(
      admin,
      NODES.map((n) => n.node),
    );
  });

  it("validates a host with no /etc/trustgate files from k8s-cc-manager's labels on its Node", async function () {
    const h = await host("cc-labels-1");
    expect(validated(h)).to.deep.equal({ status: "True", message: "host validated" });
    expect(h?.status?.gpuSummary).to.deep.include({
      total: 8,
      ccReady: 8,
      mode: "on",
      ccModeSource: "labels",
    });
    expect((await node("cc-labels-1")).metadata?.labels).to.include({
      "trustgate.io/validated": "true",
      "trustgate.io/gpu-cc": "on",
      "trustgate.io/gpu-count": "8",
    });
  });

  it("refuses that host within an interval once the CC manager reports a mode change it has not applied", async function () {
    await admin
      .makeApiClient(CoreV1Api)
      .patchNode(
        { name: "cc-labels-1", body: { metadata: { labels: { "nvidia.com/cc.mode": "off" } } } },
        mergePatch,
      );
    await waitUntil(
      "cc-labels-1 refused",
      async () => validated(await host("cc-labels-1")).status === "False",
      30_000,
    );
    const h = await host("cc-labels-1");
    expect(validated(h).message).to.include("GPU 0000:18:00.0 CC mode unknown");
    expect(h?.status?.tee?.details?.["problems.gpus"]).to.include(
      'Node labels refused: mode change pending: nvidia.com/cc.mode="off" but nvidia.com/cc.mode.state=on',
    );
  });

  it("refuses a host whose cc-probe state file was written in another boot, saying so", async function () {
    const h = await host("cc-other-boot-1");
    expect(validated(h).status).to.equal("False");
    expect(validated(h).message).to.include("GPU 0000:18:00.0 CC mode unknown");
    expect(h?.status?.gpuSummary).to.deep.include({ ccReady: 0, mode: "unknown", ccModeSource: "none" });
    expect(h?.status?.tee?.details?.["problems.gpus"]).to.include(
      "/run/trustgate/cc-probe.json refused: written in another boot",
    );
    expect(await label("cc-other-boot-1", "trustgate.io/validated")).to.equal("false");
  });

  it("validates a PPCIe board (8 GPUs, 4 NVSwitches on vfio-pci) as gpu-cc=ppcie", async function () {
    const h = await host("cc-ppcie-1");
    expect(validated(h).status).to.equal("True");
    expect(h?.status?.gpuSummary).to.deep.include({ total: 8, nvswitches: 4, mode: "ppcie" });
    expect(h?.status?.nvswitches?.map((s) => [s.deviceId, s.driver, s.ppcieMode])).to.deep.equal(
      Array(4).fill(["0x22a3", "vfio-pci", "on"]),
    );
    expect(h?.status?.conditions?.find((c) => c.type === "GPUsReady")?.reason).to.equal(
      "AllGPUsProtectedPCIe",
    );
    expect((await node("cc-ppcie-1")).metadata?.labels).to.include({
      "trustgate.io/validated": "true",
      "trustgate.io/gpu-cc": "ppcie",
      "trustgate.io/gpu-count": "8",
    });
  });

  it("refuses the board with 3 of 4 NVSwitches in PPCIe, naming the fourth", async function () {
    const h = await host("cc-ppcie-3of4");
    expect(validated(h)).to.deep.equal({
      status: "False",
      message: "GPUs in protected PCIe mode but NVSwitches 0000:08:00.0 (off) not",
    });
    expect(await label("cc-ppcie-3of4", "trustgate.io/gpu-cc")).to.equal("mixed");
  });
});
