import { execFile } from "node:child_process";
import { cp, copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { expect } from "chai";
import { stringify } from "yaml";
import type { ManagedProcess } from "../../../hack/lib/managed-process.ts";
import type { ConfidentialHost } from "../../src/api/v1alpha1/generated/types.ts";
import { applyCrds, readCrdFile } from "../support/crd-install.ts";
import { applyManifestFile, waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir, sharedControlPlane } from "../support/control-plane.ts";
import { podBoundToken, writeTokenKubeconfig } from "../support/identities.ts";
import { readConfidentialHost } from "../support/read.ts";
import { REPO_ROOT } from "../support/samples.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

const NS = "trustgate-system";
const FIXTURES = join(REPO_ROOT, "operator/test/fixtures/hosts");

/** `trustgate agent --once` from source as a real process; resolves with its exit code and stderr. */
function agentOnce(dir: string, node: string, kubeconfig: string): Promise<{ code: number; stderr: string }> {
  const args = [
    join(REPO_ROOT, "operator/src/cmd/main.ts"),
    ...["agent", "--once", "--node-name", node, "--host-root", join(FIXTURES, "tdx-8xh100")],
    ...["--key-file", join(dir, `${node}.jwk`), "--kubeconfig", kubeconfig],
  ];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 60_000 }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stderr });
    });
  });
}

describe("agent publishing with its own Kubernetes client (real API server)", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  let dir: string;
  const processes: ManagedProcess[] = [];

  const host = (name: string): Promise<ConfidentialHost | undefined> => readConfidentialHost(admin, name);

  async function nodeToken(node: string): Promise<string> {
    await admin
      .makeApiClient(CoreV1Api)
      .createNode({ body: { metadata: { name: node } } })
      .catch(() => undefined);
    return podBoundToken(admin, NS, "trustgate-agent", node);
  }

  async function expectPublished(node: string): Promise<ConfidentialHost> {
    const stored = await host(node);
    expect(stored?.spec).to.deep.equal({});
    expect(stored?.status?.tee).to.include({ type: "tdx", enabled: true });
    expect(stored?.status?.gpuSummary).to.deep.include({ total: 8, ccReady: 8 });
    expect(stored?.status?.report?.jws).to.be.a("string");
    return stored!;
  }

  before(async function () {
    admin = await kubeConfig();
    dir = await makeTempDir("trustgate-agent-publish-");
    await applyCrds(admin, await readCrdFile(join(REPO_ROOT, "crds/confidentialhosts.trustgate.io.yaml")));
    await admin
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: NS } } })
      .catch(() => undefined);
    for (const file of ["rbac/agent.yaml", "admission/agent-node-restriction.yaml"]) {
      await applyManifestFile(admin, `charts/trustgate/files/${file}`);
    }
  });

  after(async function () {
    await Promise.all(processes.map((p) => p.stop()));
  });

  it("publishes with a client-certificate kubeconfig (inline data), and writes nothing when nothing changed", async function () {
    const { kubeconfigPath } = await sharedControlPlane();
    const first = await agentOnce(dir, "pub-cert-data", kubeconfigPath);
    expect(first.code, first.stderr).to.equal(0);
    const stored = await expectPublished("pub-cert-data");
    const again = await agentOnce(dir, "pub-cert-data", kubeconfigPath);
    expect(again.code, again.stderr).to.equal(0);
    expect((await host("pub-cert-data"))?.metadata.resourceVersion).to.equal(stored.metadata.resourceVersion);
  });

  it("publishes with a client-certificate kubeconfig naming CA, certificate and key files", async function () {
    const controlPlane = await sharedControlPlane();
    await mkdir(join(dir, "pki"), { recursive: true });
    for (const file of ["ca.crt", "admin.crt", "admin.key"])
      await copyFile(join(controlPlane.dir, "pki", file), join(dir, "pki", file));
    const kubeconfig = join(dir, "cert-files.kubeconfig");
    await writeFile(
      kubeconfig,
      stringify({
        clusters: [
          { name: "c", cluster: { server: controlPlane.server, "certificate-authority": "pki/ca.crt" } },
        ],
        users: [
          { name: "u", user: { "client-certificate": "pki/admin.crt", "client-key": "pki/admin.key" } },
        ],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    const result = await agentOnce(dir, "pub-cert-files", kubeconfig);
    expect(result.code, result.stderr).to.equal(0);
    await expectPublished("pub-cert-files");
  });

  it("publishes with a pod-bound token kubeconfig, and reports the API server's refusal for another node", async function () {
    const kubeconfig = await writeTokenKubeconfig(
      admin,
      await nodeToken("pub-token-1"),
      join(dir, "pub-token-1.kubeconfig"),
    );
    const own = await agentOnce(dir, "pub-token-1", kubeconfig);
    expect(own.code, own.stderr).to.equal(0);
    await expectPublished("pub-token-1");

    const other = await agentOnce(dir, "pub-token-2", kubeconfig);
    expect(other.code).to.equal(1);
    expect(other.stderr).to.include(
      "the trustgate agent on node pub-token-1 may only write ConfidentialHost pub-token-1, not pub-token-2",
    );
    expect(await host("pub-token-2")).to.equal(undefined);
  });

  it("re-reads a rotated token file while running, and exits promptly on SIGTERM", async function () {
    const node = "pub-rotating";
    const tokenFile = join(dir, `${node}.token`);
    await writeFile(tokenFile, await nodeToken(node));
    const kubeconfig = join(dir, `${node}.kubeconfig`);
    const cluster = admin.getCurrentCluster()!;
    await writeFile(
      kubeconfig,
      stringify({
        clusters: [
          { name: "c", cluster: { server: cluster.server, "certificate-authority-data": cluster.caData } },
        ],
        users: [{ name: "u", user: { tokenFile } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    const root = join(dir, node);
    await cp(join(FIXTURES, "tdx-8xh100"), root, { recursive: true, verbatimSymlinks: true });
    const agent = startTrustgate(
      node,
      ["agent", "--node-name", node, "--host-root", root, "--key-file", join(dir, `${node}.jwk`)].concat([
        "--interval",
        "1s",
        "--kubeconfig",
        kubeconfig,
      ]),
      dir,
    );
    processes.push(agent);
    await waitUntil(node, async () => (await host(node))?.status?.report !== undefined, 30_000);

    // A token the API server rejects, then a GPU change the agent must write.
    await writeFile(tokenFile, "not-a-token");
    const ccModeFile = "etc/trustgate/cc-mode.json";
    await copyFile(join(FIXTURES, "tdx-8xh100-gpu-cc-off", ccModeFile), join(root, ccModeFile));
    await waitUntil(
      "the agent's write refused as Unauthorized",
      async () => (await readFile(agent.logPath, "utf8")).includes('"reason":"Unauthorized"'),
      15_000,
    );
    expect((await host(node))?.status?.gpuSummary?.ccReady).to.equal(8);

    // The kubelet's rotation: a fresh token in the same file.
    await writeFile(tokenFile, await podBoundToken(admin, NS, "trustgate-agent", node));
    await waitUntil(
      "the change written",
      async () => (await host(node))?.status?.gpuSummary?.ccReady === 7,
      15_000,
    );

    const stopping = Date.now();
    await agent.stop();
    expect(await agent.exited).to.equal("exit code 0");
    expect(Date.now() - stopping, "no keep-alive socket holds the process").to.be.below(3_000);
  });
});
