import { expect } from "chai";
import { expectLoggerFormat, readLogLines, type LogLine } from "../support/log-lines.ts";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../../../hack/lib/control-plane.ts";
import { resolveBinDir } from "../../../hack/lib/find-binaries.ts";
import { freeLoopbackPorts, type ManagedProcess } from "../../../hack/lib/managed-process.ts";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { loadKubeConfig } from "../../src/kube/kubeconfig.ts";
import type { KubeVirt, VirtualMachine } from "../../src/kubevirt/generated/types.ts";
import { isNotFound } from "../../src/kube/api-error.ts";
import { waitUntil } from "../support/apply.ts";
import { anAttestationPolicy } from "../support/builders/attestation-policy.ts";
import { aConfidentialVM } from "../support/builders/confidential-vm.ts";
import { makeTempDir } from "../support/control-plane.ts";
import { writeServiceAccountKubeconfig } from "../support/identities.ts";
import { installTrustgate, startFixtureAgent, SYSTEM_NS } from "../support/install.ts";
import {
  applyKubeVirt,
  exampleKubeVirt,
  fixtureHardware,
  installKubevirtCrds,
  simulateVirtHandler,
} from "../support/kubevirt/installation.ts";
import { readConfidentialHost, readConfidentialVM } from "../support/read.ts";
import { OFFLINE_COLLATERAL, startTrustgate } from "../support/trustgate-process.ts";

const NS = "kv-preflight";
const NODE = "kv-tdx-1";
const TRUSTGATE = { group: "trustgate.io", version: "v1alpha1" };
const NOT_INSTALLED =
  "KubeVirt CRDs not installed: VirtualMachines cannot be launched; host validation continues";

function logLines(process: ManagedProcess): Promise<LogLine[]> {
  return readLogLines(process.logPath);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Its own API server: the shared one has KubeVirt's CRDs once any other suite installed them.
describe("controller on a cluster without KubeVirt, then with it (own API server)", function () {
  this.timeout(240_000);
  let controlPlane: ControlPlane;
  let admin: KubeConfig;
  let objects: CustomObjectsApi;
  let controller: ManagedProcess;
  let metricsPort: number;
  let startedAt: number;
  const processes: ManagedProcess[] = [];

  const cvm = (): Promise<ConfidentialVM | undefined> => readConfidentialVM(admin, NS, "llm");
  const kubeVirtReady = async () =>
    (await cvm())?.status?.conditions?.find((c) => c.type === "KubeVirtReady");
  const endpoint = async (path: string): Promise<{ status: number; body: string } | undefined> => {
    const response = await fetch(`http://127.0.0.1:${String(metricsPort)}${path}`).catch(() => undefined);
    return response === undefined ? undefined : { status: response.status, body: await response.text() };
  };
  async function vm(): Promise<VirtualMachine | undefined> {
    try {
      return (await objects.getNamespacedCustomObject({
        group: "kubevirt.io",
        version: "v1",
        namespace: NS,
        plural: "virtualmachines",
        name: "llm",
      })) as VirtualMachine;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  before(async function () {
    const dir = await makeTempDir("trustgate-kv-preflight-");
    controlPlane = await startControlPlane({ binDir: await resolveBinDir(), dir: `${dir}/control-plane` });
    admin = loadKubeConfig(controlPlane.kubeconfigPath);
    objects = admin.makeApiClient(CustomObjectsApi);
    await installTrustgate(admin, { namespaces: [NS] });
    await objects.createClusterCustomObject({
      ...TRUSTGATE,
      plural: "attestationpolicies",
      body: anAttestationPolicy("kv-preflight"),
    });
    // The agent publishes once before the controller starts, then every minute: its own updates cost no log lines here.
    processes.push(
      (await startFixtureAgent(admin, { node: NODE, fixture: "tdx-8xh100" }, dir, "60s")).process,
    );
    await waitUntil(
      "the agent's first report",
      async () => (await readConfidentialHost(admin, NODE))?.status?.report !== undefined,
      30_000,
    );
    [metricsPort] = (await freeLoopbackPorts(1)) as [number];
    const controllerKc = await writeServiceAccountKubeconfig(admin, SYSTEM_NS, "trustgate-controller", dir);
    startedAt = Date.now();
    controller = startTrustgate(
      "controller",
      [
        "controller",
        ...OFFLINE_COLLATERAL,
        ...["--kubeconfig", controllerKc, "--metrics-bind-address", `127.0.0.1:${String(metricsPort)}`],
      ],
      dir,
    );
    processes.push(controller);
  });

  after(async function () {
    await Promise.all(processes.map((p) => p.stop()));
    await controlPlane.stop();
  });

  it("is ready and validates a host within 10 s, without KubeVirt", async function () {
    await waitUntil("/readyz 200", async () => (await endpoint("/readyz"))?.status === 200, 10_000);
    await waitUntil(
      "the host Validated",
      async () =>
        (await readConfidentialHost(admin, NODE))?.status?.conditions?.some(
          (c) => c.type === "Validated" && c.status === "True",
        ) === true,
      Math.max(0, startedAt + 10_000 - Date.now()),
    );
    expect(Date.now() - startedAt).to.be.below(10_000);
    expect((await endpoint("/metrics"))?.body).to.include('trustgate_kubevirt_ready{check="installed"} 0');
  });

  it("does not launch a ConfidentialVM and says KubeVirt is not installed", async function () {
    await objects.createNamespacedCustomObject({
      ...TRUSTGATE,
      namespace: NS,
      plural: "confidentialvms",
      body: aConfidentialVM({ tee: "tdx", policyRef: "kv-preflight", gpus: { count: 1 } }, "llm", {
        metadata: { namespace: NS },
      }),
    });
    await waitUntil("KubeVirtReady False", async () => (await kubeVirtReady())?.status === "False", 15_000);
    expect(await kubeVirtReady()).to.include({
      reason: "KubeVirtNotInstalled",
      message:
        "KubeVirt CRDs not installed (kubevirt.io/v1 VirtualMachine, VirtualMachineInstance, KubeVirt)",
    });
    const status = (await cvm())?.status;
    expect(status?.nodeName).to.equal(NODE);
    expect(status?.message).to.match(/^waiting for KubeVirt: KubeVirt CRDs not installed/);
    expect(status?.conditions?.find((c) => c.type === "Deployed")).to.include({
      status: "False",
      reason: "KubeVirtNotReady",
    });
  });

  it("logs one clear error, no stack traces, and fewer than 20 lines in its first minute (30 s measured)", async function () {
    await sleep(Math.max(0, startedAt + 30_000 - Date.now()));
    const lines = await logLines(controller);
    const describe = lines.map((l) => JSON.stringify(l)).join("\n");
    expect(
      lines.filter((l) => l.msg === NOT_INSTALLED),
      "the KubeVirt error",
    ).to.have.length(1);
    expect(
      lines.filter((l) => JSON.stringify(l).includes("    at ")),
      "stack traces",
    ).to.deep.equal([]);
    // createLogger's format: string levels, ISO-8601 times, errors as code/reason/message.
    for (const line of lines.filter((l) => l.time !== undefined)) expectLoggerFormat(line);
    // Start-up, the host's validation and the ConfidentialVM above included: under the minute's budget in 30 s.
    expect(lines.length, describe).to.be.below(20);
    // Once started, the retries of KubeVirt's watches are quiet: nothing at all from 15 s to 30 s.
    const quiet = lines.filter(
      (l) => Date.parse(typeof l.time === "string" ? l.time : "") >= startedAt + 15_000,
    );
    expect(quiet, describe).to.deep.equal([]);
  });

  it("picks KubeVirt up once installed, refuses a missing TDX feature gate by name, then launches", async function () {
    await installKubevirtCrds(admin);
    await simulateVirtHandler(admin, NODE, await fixtureHardware("tdx-8xh100"));
    const withoutTdxGate: KubeVirt = exampleKubeVirt();
    withoutTdxGate.spec.configuration = {
      ...withoutTdxGate.spec.configuration,
      developerConfiguration: { featureGates: ["WorkloadEncryptionSEV"] },
    };
    await applyKubeVirt(admin, withoutTdxGate);
    // The KubeVirt watches retry a resource that was not served with a backoff capped at 10 s.
    await waitUntil(
      "FeatureGateDisabled",
      async () => (await kubeVirtReady())?.reason === "FeatureGateDisabled",
      45_000,
    );
    expect((await kubeVirtReady())?.message).to.equal(
      "KubeVirt kubevirt/kubevirt: feature gate WorkloadEncryptionTDX (Alpha) is not listed in spec.configuration.developerConfiguration.featureGates, so KubeVirt refuses TDX VMs",
    );
    expect(await vm()).to.equal(undefined);
    expect((await endpoint("/metrics"))?.body).to.include(
      'trustgate_kubevirt_ready{check="feature-gate-tdx"} 0',
    );

    await applyKubeVirt(admin, exampleKubeVirt());
    await waitUntil("the VirtualMachine", async () => (await vm()) !== undefined, 20_000);
    await waitUntil("KubeVirtReady True", async () => (await kubeVirtReady())?.status === "True", 15_000);
    expect((await kubeVirtReady())?.message).to.equal(`KubeVirt can launch this VM on ${NODE}`);
    const gpus = (await vm())?.spec.template.spec?.domain.devices.gpus ?? [];
    expect(gpus.map((g) => g.deviceName)).to.deep.equal(["nvidia.com/GH100_H100_SXM5_80GB"]);
    const metrics = (await endpoint("/metrics"))?.body ?? "";
    for (const check of ["installed", "deployed", "feature-gate-tdx", "tdx-qgs-enforced", "gpu-host-devices"])
      expect(metrics).to.include(`trustgate_kubevirt_ready{check="${check}"} 1`);
    const lines = await logLines(controller);
    expect(lines.map((l) => l.msg)).to.include(
      "KubeVirt CRDs installed: VirtualMachines can be launched once KubeVirt is ready",
    );
  });
});
