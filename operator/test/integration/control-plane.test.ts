import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  AuthenticationV1Api,
  AuthenticationV1TokenRequest,
  CoreV1Api,
  KubeConfig,
  V1Namespace,
  V1ObjectMeta,
  V1SelfSubjectReview,
  V1ServiceAccount,
  V1TokenRequestSpec,
  VersionApi,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { loadKubeConfig } from "../../src/kube/kubeconfig.ts";
import { startControlPlane, type ControlPlane } from "../../../hack/lib/control-plane.ts";
import { resolveBinDir } from "../../../hack/lib/find-binaries.ts";
import { httpsGet } from "../../../hack/lib/https-get.ts";
import { isProcessRunning, sleep } from "../../../hack/lib/managed-process.ts";
import { kubeConfig, makeTempDir, sharedControlPlane } from "../support/control-plane.ts";

const CONTROL_PLANE_MODULE = new URL("../../../hack/lib/control-plane.ts", import.meta.url).href;

function pinnedKubernetesVersion(): string {
  const versions = readFileSync(new URL("../../../hack/versions.sh", import.meta.url), "utf8");
  const match = /^K8S_VERSION=(\S+)$/m.exec(versions);
  if (match?.[1] === undefined) throw new Error("K8S_VERSION missing from hack/versions.sh");
  return match[1];
}

/** client-node models are classes, so request bodies are built as real instances. */
function build<T extends object>(Model: new () => T, fields: Partial<T>): T {
  return Object.assign(new Model(), fields);
}

function namedNamespace(name: string): V1Namespace {
  return build(V1Namespace, { metadata: build(V1ObjectMeta, { name }) });
}

function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      resolve(false);
    });
  });
}

async function waitUntilAllExited(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  let alive = pids.filter(isProcessRunning);
  while (alive.length > 0 && performance.now() < deadline) {
    await sleep(100);
    alive = alive.filter(isProcessRunning);
  }
  return alive;
}

describe("local control plane (shared)", function () {
  this.timeout(120_000);
  let controlPlane: ControlPlane;
  let admin: KubeConfig;

  before(async function () {
    controlPlane = await sharedControlPlane();
    admin = await kubeConfig();
  });

  it("reports the pinned Kubernetes version on /version", async function () {
    const version = await admin.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).to.equal(pinnedKubernetesVersion());
  });

  it("lets the admin kubeconfig create a namespace", async function () {
    const core = admin.makeApiClient(CoreV1Api);
    const name = uniqueName("cp-admin");
    await core.createNamespace({ body: namedNamespace(name) });
    const created = await core.readNamespace({ name });
    expect(created.status?.phase).to.equal("Active");
  });

  it("forbids anonymous requests through RBAC (403, not 401)", async function () {
    const response = await httpsGet(`${controlPlane.server}/api/v1/namespaces`, {
      ca: controlPlane.caCertPem,
    });
    expect(response.status).to.equal(403);
    expect((JSON.parse(response.body) as { message: string }).message).to.contain("system:anonymous");
  });

  it("issues ServiceAccount tokens via TokenRequest that authenticate", async function () {
    const core = admin.makeApiClient(CoreV1Api);
    const namespace = uniqueName("cp-sa");
    const serviceAccount = "robot";
    await core.createNamespace({ body: namedNamespace(namespace) });
    await core.createNamespacedServiceAccount({
      namespace,
      body: build(V1ServiceAccount, { metadata: build(V1ObjectMeta, { name: serviceAccount }) }),
    });
    const tokenRequest = await core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      // No audiences: the token is bound to the API server's own audience (the issuer).
      body: build(AuthenticationV1TokenRequest, {
        spec: build(V1TokenRequestSpec, { audiences: [], expirationSeconds: 600 }),
      }),
    });
    const token = tokenRequest.status?.token;
    expect(token).to.be.a("string").and.not.empty;

    const asServiceAccount = new KubeConfig();
    asServiceAccount.loadFromOptions({
      clusters: [
        {
          name: "local",
          server: controlPlane.server,
          caData: Buffer.from(controlPlane.caCertPem).toString("base64"),
        },
      ],
      users: [{ name: serviceAccount, token }],
      contexts: [{ name: "local", cluster: "local", user: serviceAccount }],
      currentContext: "local",
    });
    const review = await asServiceAccount
      .makeApiClient(AuthenticationV1Api)
      .createSelfSubjectReview({ body: new V1SelfSubjectReview() });
    expect(review.status?.userInfo?.username).to.equal(
      `system:serviceaccount:${namespace}:${serviceAccount}`,
    );
  });
});

describe("local control plane (own lifecycle)", function () {
  this.timeout(120_000);
  let dir: string;

  beforeEach(async function () {
    dir = await makeTempDir("trustgate-cp-lifecycle-");
  });

  it("stop() ends every recorded process and closes every port, and can be repeated", async function () {
    const controlPlane = await startControlPlane({ binDir: await resolveBinDir(), dir });
    const recorded = JSON.parse(await readFile(join(dir, "pids.json"), "utf8")) as Record<string, number>;
    expect(Object.values(recorded)).to.have.members([controlPlane.etcdPid, controlPlane.apiserverPid]);

    await controlPlane.stop();
    await controlPlane.stop();

    expect(Object.values(recorded).filter(isProcessRunning)).to.deep.equal([]);
    for (const port of Object.values(controlPlane.ports)) {
      expect(await isPortOpen(port), `port ${port}`).to.equal(false);
    }
  });

  it("restarts etcd and kube-apiserver in place: same ports, same data, the new pids recorded", async function () {
    const controlPlane = await startControlPlane({ binDir: await resolveBinDir(), dir });
    try {
      const core = (): CoreV1Api => loadKubeConfig(controlPlane.kubeconfigPath).makeApiClient(CoreV1Api);
      const name = uniqueName("survives");
      await core().createNamespace({ body: namedNamespace(name) });
      const before = { etcd: controlPlane.etcdPid, apiserver: controlPlane.apiserverPid };

      const etcd = await controlPlane.restart("etcd", { signal: "SIGKILL" });
      expect(isProcessRunning(before.etcd)).to.equal(false);
      expect(controlPlane.etcdPid).to.not.equal(before.etcd);
      expect(etcd.signalledAt).to.be.at.most(etcd.stoppedAt);
      expect(etcd.stoppedAt).to.be.at.most(etcd.startedAt);
      expect(etcd.startedAt).to.be.below(etcd.readyAt);
      const apiserver = await controlPlane.restart("kube-apiserver", { downMs: 300 });
      expect(apiserver.startedAt - apiserver.stoppedAt).to.be.at.least(300);
      expect(isProcessRunning(before.apiserver)).to.equal(false);

      // The same kubeconfig (same port, same CA) reads what was written before both restarts.
      expect((await core().readNamespace({ name })).metadata?.name).to.equal(name);
      const recorded = JSON.parse(await readFile(join(dir, "pids.json"), "utf8")) as Record<string, number>;
      expect(recorded).to.deep.equal({
        etcd: controlPlane.etcdPid,
        "kube-apiserver": controlPlane.apiserverPid,
      });
    } finally {
      await controlPlane.stop();
    }
    const refused = await controlPlane.restart("etcd").then(
      () => "restarted",
      (error: unknown) => (error as Error).message,
    );
    expect(refused).to.equal("cannot restart etcd: the control plane is stopping");
  });

  it("takes etcd and kube-apiserver down when its Node process is SIGKILLed", async function () {
    const script = [
      `const { startControlPlane } = await import(${JSON.stringify(CONTROL_PLANE_MODULE)});`,
      `const cp = await startControlPlane(JSON.parse(process.argv[1]));`,
      `console.log(JSON.stringify([cp.etcdPid, cp.apiserverPid]));`,
      `setInterval(() => {}, 60000);`,
    ].join("\n");
    const options = JSON.stringify({ binDir: await resolveBinDir(), dir });
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, options], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const firstLine = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once("line", resolve);
        child.once("exit", (code) => {
          reject(new Error(`child exited early with ${String(code)}`));
        });
      });
      const pids = JSON.parse(firstLine) as number[];
      expect(pids.filter(isProcessRunning)).to.have.length(2);

      child.kill("SIGKILL");
      expect(await waitUntilAllExited(pids, 5_000)).to.deep.equal([]);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
