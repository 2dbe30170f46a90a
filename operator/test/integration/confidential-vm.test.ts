import { expect } from "chai";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { pino } from "pino";
import type { ManagedProcess } from "../../../hack/lib/managed-process.ts";
import { startKubevirtSimulator, type KubevirtSimulator } from "../../../e2e/kubevirt-simulator/simulator.ts";
import type { ConfidentialVM, ConfidentialVMSpec } from "../../src/api/v1alpha1/generated/types.ts";
import { isNotFound } from "../../src/kube/api-error.ts";
import type { VirtualMachine } from "../../src/kubevirt/generated/types.ts";
import { waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { writeServiceAccountKubeconfig } from "../support/identities.ts";
import { removeHosts } from "../support/hosts.ts";
import { readConfidentialVM } from "../support/read.ts";
import { installTrustgate, startFixtureAgent } from "../support/install.ts";
import { OFFLINE_COLLATERAL, startTrustgate } from "../support/trustgate-process.ts";
import { aConfidentialVM } from "../support/builders/confidential-vm.ts";
import { anAttestationPolicy } from "../support/builders/attestation-policy.ts";

const SYSTEM_NS = "trustgate-system";
const NS = "cvm-tests";
const trustgate = { group: "trustgate.io", version: "v1alpha1" };
const kubevirt = { group: "kubevirt.io", version: "v1", namespace: NS, plural: "virtualmachines" };
const DIGEST = `sha256:${"4f".repeat(32)}`;
const SUITE_LABEL = { "trustgate.test/suite": "confidential-vm" };
const HOSTS = [
  { node: "cvm-tdx-1", fixture: "tdx-8xh100" },
  { node: "cvm-snp-1", fixture: "snp-genoa-4xh100" },
];

function cvmBody(name: string, spec: Partial<ConfidentialVMSpec>): object {
  return aConfidentialVM(
    {
      tee: "tdx",
      policyRef: "cvm-test",
      image: { containerDisk: `registry.example.com/cvm@${DIGEST}` },
      // Other suites leave validated hosts in the shared API server: stay on this suite's nodes.
      nodeSelector: SUITE_LABEL,
      ...spec,
    },
    name,
    { metadata: { namespace: NS } },
  );
}

describe("ConfidentialVM controller: validated hosts → KubeVirt VMs (real API server, agents, simulator)", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  let objects: CustomObjectsApi;
  let dir: string;
  let controllerKc: string;
  let simulator: KubevirtSimulator | undefined;
  const processes: ManagedProcess[] = [];

  const cvm = (name: string): Promise<ConfidentialVM | undefined> => readConfidentialVM(admin, NS, name);

  async function vm(name: string): Promise<VirtualMachine | undefined> {
    try {
      return (await objects.getNamespacedCustomObject({ ...kubevirt, name })) as VirtualMachine;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async function createCvm(name: string, spec: Partial<ConfidentialVMSpec>): Promise<void> {
    await objects.createNamespacedCustomObject({
      ...trustgate,
      namespace: NS,
      plural: "confidentialvms",
      body: cvmBody(name, spec),
    });
  }

  /** Whether the CVM's status names the GPUs its host reports the (simulated) device plugin gave its VM. */
  async function gpusObserved(name: string): Promise<boolean> {
    return (await cvm(name))?.status?.gpuAllocation?.state === "Observed";
  }

  async function phaseOf(name: string): Promise<string | undefined> {
    return (await cvm(name))?.status?.phase;
  }

  function startController(): void {
    processes.push(
      startTrustgate(
        `controller-${processes.length}`,
        [
          "controller",
          ...OFFLINE_COLLATERAL,
          "--kubeconfig",
          controllerKc,
          "--host-stale-after",
          "60s",
          "--metrics-bind-address",
          "127.0.0.1:0",
        ],
        dir,
      ),
    );
  }

  before(async function () {
    admin = await kubeConfig();
    objects = admin.makeApiClient(CustomObjectsApi);
    dir = await makeTempDir("trustgate-cvm-");
    await installTrustgate(admin, { kubevirt: true, namespaces: [NS] });
    await objects.createClusterCustomObject({
      ...trustgate,
      plural: "attestationpolicies",
      body: anAttestationPolicy("cvm-test"),
    });
    for (const host of HOSTS) {
      processes.push(
        (await startFixtureAgent(admin, { ...host, labels: SUITE_LABEL, virtHandler: true }, dir)).process,
      );
    }
    controllerKc = await writeServiceAccountKubeconfig(admin, SYSTEM_NS, "trustgate-controller", dir);
    startController();
    simulator = await startKubevirtSimulator({ kc: admin, log: pino({ level: "silent" }) });
  });

  after(async function () {
    await simulator?.stop();
    await Promise.all(processes.map((p) => p.stop()));
    await removeHosts(
      admin,
      HOSTS.map((h) => h.node),
    );
  });

  it("places a TDX CVM with 4 H100s on the validated TDX host and reaches Attesting once its VMI runs", async function () {
    await createCvm("tdx-a", { gpus: { count: 4, model: "H100-SXM5-80GB" } });
    await waitUntil("tdx-a Attesting", async () => (await phaseOf("tdx-a")) === "Attesting", 60_000);
    const status = (await cvm("tdx-a"))?.status;
    expect(status?.nodeName).to.equal("cvm-tdx-1");
    expect(status?.gpus).to.have.length(4);
    const conditions = Object.fromEntries((status?.conditions ?? []).map((c) => [c.type, c.status]));
    expect(conditions).to.include({ HostValidated: "True", Deployed: "True" });
    const machine = await vm("tdx-a");
    expect(machine?.spec.template.spec?.domain.launchSecurity).to.deep.equal({ tdx: {} });
    expect(machine?.spec.template.spec?.nodeSelector?.["kubernetes.io/hostname"]).to.equal("cvm-tdx-1");
    expect(machine?.spec.template.spec?.domain.devices.gpus).to.have.length(4);
  });

  it("never gives two CVMs the same GPU, and says why a third one cannot be placed", async function () {
    await createCvm("tdx-b", { gpus: { count: 4 } });
    await waitUntil("tdx-b placed", async () => (await cvm("tdx-b"))?.status?.nodeName !== undefined, 60_000);
    await createCvm("tdx-c", { gpus: { count: 4 } });
    await waitUntil("tdx-c Scheduling", async () => (await phaseOf("tdx-c")) === "Scheduling", 60_000);
    for (const name of ["tdx-a", "tdx-b"])
      await waitUntil(`${name}'s GPUs reported`, () => gpusObserved(name), 30_000);
    const a = (await cvm("tdx-a"))?.status?.gpus?.map((g) => g.pciAddress) ?? [];
    const b = (await cvm("tdx-b"))?.status?.gpus?.map((g) => g.pciAddress) ?? [];
    expect(new Set([...a, ...b]).size).to.equal(8);
    const message = (await cvm("tdx-c"))?.status?.message ?? "";
    expect(message).to.include("cvm-tdx-1: 0 free CC-ready GPUs, want 4");
    expect(message).to.include("cvm-snp-1: TEE snp, want tdx");
  });

  it("says which policy is missing instead of launching", async function () {
    await createCvm("no-policy", { policyRef: "does-not-exist" });
    await waitUntil("no-policy Pending", async () => (await phaseOf("no-policy")) === "Pending", 30_000);
    const status = (await cvm("no-policy"))?.status;
    expect(status?.message).to.equal("AttestationPolicy does-not-exist not found");
    expect(status?.conditions?.find((c) => c.type === "HostValidated")?.reason).to.equal("PolicyNotFound");
    expect(await vm("no-policy")).to.equal(undefined);
  });

  it("places an SNP CVM on the SNP host", async function () {
    await createCvm("snp-a", { tee: "snp", gpus: { count: 2 } });
    await waitUntil("snp-a Attesting", async () => (await phaseOf("snp-a")) === "Attesting", 60_000);
    expect((await cvm("snp-a"))?.status?.nodeName).to.equal("cvm-snp-1");
    expect((await vm("snp-a"))?.spec.template.spec?.domain.launchSecurity).to.deep.equal({ snp: {} });
  });

  it("says CDI is missing for an http image instead of creating a VM that could never boot", async function () {
    await createCvm("http-image", {
      tee: "snp",
      image: { http: { url: "https://images.example.com/cvm.qcow2", sha256: "0f".repeat(32) } },
    });
    await waitUntil(
      "http-image CDINotInstalled",
      async () =>
        (await cvm("http-image"))?.status?.conditions?.some((c) => c.reason === "CDINotInstalled") === true,
      30_000,
    );
    expect(await vm("http-image")).to.equal(undefined);
    await objects.deleteNamespacedCustomObject({
      ...trustgate,
      namespace: NS,
      plural: "confidentialvms",
      name: "http-image",
    });
    await waitUntil("http-image gone", async () => (await cvm("http-image")) === undefined, 30_000);
  });

  it("survives a SIGKILLed controller: no duplicate VM, the same GPU assignment", async function () {
    const before = (await cvm("tdx-a"))?.status?.gpus;
    const vmUid = (await vm("tdx-a"))?.metadata?.uid;
    const running = processes.find((p) => p.name.startsWith("controller-") && !p.hasExited());
    process.kill(running?.pid ?? 0, "SIGKILL");
    await running?.exited;
    startController();
    await createCvm("after-restart", { tee: "snp", gpus: { count: 2 } });
    await waitUntil(
      "after-restart Attesting",
      async () => (await phaseOf("after-restart")) === "Attesting",
      60_000,
    );
    expect((await cvm("tdx-a"))?.status?.gpus).to.deep.equal(before);
    expect((await vm("tdx-a"))?.metadata?.uid).to.equal(vmUid);
    const list = (await objects.listNamespacedCustomObject({ ...kubevirt })) as { items: VirtualMachine[] };
    expect(list.items.map((i) => i.metadata?.name).sort()).to.deep.equal([
      "after-restart",
      "snp-a",
      "tdx-a",
      "tdx-b",
    ]);
  });

  it("deletes the VM and frees the GPUs when a CVM is deleted, so a waiting CVM gets them", async function () {
    await objects.deleteNamespacedCustomObject({
      ...trustgate,
      namespace: NS,
      plural: "confidentialvms",
      name: "tdx-b",
    });
    await waitUntil("tdx-b gone", async () => (await cvm("tdx-b")) === undefined, 30_000);
    expect(await vm("tdx-b")).to.equal(undefined);
    await waitUntil("tdx-c Attesting", async () => (await phaseOf("tdx-c")) === "Attesting", 60_000);
    expect((await cvm("tdx-c"))?.status?.nodeName).to.equal("cvm-tdx-1");
  });

  it("relaunches the VM when the image changes, keeping its host and GPU count", async function () {
    await waitUntil("tdx-a's GPUs reported", () => gpusObserved("tdx-a"), 30_000);
    const before = await cvm("tdx-a");
    const oldUid = (await vm("tdx-a"))?.metadata?.uid;
    const image = `registry.example.com/cvm-v2@sha256:${"5a".repeat(32)}`;
    await objects.patchNamespacedCustomObject(
      {
        ...trustgate,
        namespace: NS,
        plural: "confidentialvms",
        name: "tdx-a",
        body: { spec: { image: { containerDisk: image } } },
      },
      mergePatch,
    );
    await waitUntil(
      "tdx-a VM relaunched with the new image",
      async () => {
        const machine = await vm("tdx-a");
        return (
          machine !== undefined &&
          machine.metadata?.uid !== oldUid &&
          machine.spec.template.spec?.volumes?.[0]?.containerDisk?.image === image
        );
      },
      60_000,
    );
    await waitUntil(
      "tdx-a running again",
      async () => ["Attesting", "Attested"].includes((await phaseOf("tdx-a")) ?? ""),
      60_000,
    );
    await waitUntil(
      "the new instance's GPUs reported",
      async () => {
        const status = (await cvm("tdx-a"))?.status;
        return status?.vmInstanceUid !== before?.status?.vmInstanceUid && (await gpusObserved("tdx-a"));
      },
      30_000,
    );
    const after = await cvm("tdx-a");
    expect(after?.status?.nodeName).to.equal(before?.status?.nodeName);
    // The device plugin picks which free GPUs the new pod gets; the old pod may still hold its own
    // when the new one is admitted, so only the count and models are the CVM's to keep.
    const models = (gpus: typeof after) => (gpus?.status?.gpus ?? []).map((g) => g.model).sort();
    expect(models(after)).to.deep.equal(models(before));
    expect(after?.status?.gpus?.length).to.be.greaterThan(0);
  });

  it("turns Degraded with the host's reason when its host stops being Validated", async function () {
    await waitUntil("tdx-a's GPUs reported", () => gpusObserved("tdx-a"), 30_000);
    const gpu = (await cvm("tdx-a"))?.status?.gpus?.[0]?.pciAddress ?? "";
    const ccModeFile = join(dir, "cvm-tdx-1", "etc/trustgate/cc-mode.json");
    const modes = JSON.parse(await readFile(ccModeFile, "utf8")) as {
      gpus: Record<string, { ccMode: string }>;
    };
    modes.gpus[gpu] = { ccMode: "off" };
    await writeFile(ccModeFile, JSON.stringify(modes));
    await waitUntil("tdx-a Degraded", async () => (await phaseOf("tdx-a")) === "Degraded", 30_000);
    const status = (await cvm("tdx-a"))?.status;
    expect(status?.message).to.include(`GPU ${gpu} CC mode off`);
    expect(status?.conditions?.find((c) => c.type === "HostValidated")?.status).to.equal("False");
  });
});
