import { expect } from "chai";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { join } from "node:path";
import { pino } from "pino";
import {
  FAIL_ANNOTATION,
  type KubevirtSimulator,
  type KubevirtSimulatorOptions,
  startKubevirtSimulator,
} from "../../../e2e/kubevirt-simulator/simulator.ts";
import { waitFor } from "../../../e2e/support/wait-for.ts";
import { applyCrds, readCrdFile } from "../support/crd-install.ts";
import { isNotFound } from "../../src/kube/api-error.ts";
import type { VirtualMachine, VirtualMachineInstance } from "../../src/kubevirt/generated/types.ts";
import { buildVirtualMachine } from "../../src/kubevirt/virtual-machine.ts";
import { LABEL_VALIDATED } from "../../src/api/v1alpha1/labels.ts";
import { aConfidentialVM } from "../support/builders/confidential-vm.ts";
import { kubeConfig } from "../support/control-plane.ts";
import { REPO_ROOT } from "../support/samples.ts";

const KUBEVIRT = { group: "kubevirt.io", version: "v1" };
const H100 = "H100-SXM5-80GB";
const STEP_DELAY_MS = 100;

describe("the test-only KubeVirt simulator on a real API server", function () {
  let kc: KubeConfig;
  let objects: CustomObjectsApi;
  let core: CoreV1Api;
  let simulator: KubevirtSimulator;
  const suffix = Date.now().toString(36);
  const namespace = `kubevirt-sim-${suffix}`;

  before(async function () {
    kc = await kubeConfig();
    objects = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
    const files = ["virtualmachines.kubevirt.io.yaml", "virtualmachineinstances.kubevirt.io.yaml"];
    const crds = (
      await Promise.all(files.map((f) => readCrdFile(join(REPO_ROOT, "hack/kubevirt/crds", f))))
    ).flat();
    await applyCrds(kc, crds, 60_000);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  async function startSimulator(options: Partial<KubevirtSimulatorOptions>): Promise<void> {
    simulator = await startKubevirtSimulator({
      kc,
      log: pino({ level: process.env["LOG_LEVEL"] ?? "silent" }),
      resyncMs: 200,
      ...options,
    });
  }

  /** Leaves no VMs behind for simulators that start later (their VMIs go with them), then stops. */
  async function stopSimulator(): Promise<void> {
    const list = (plural: string) =>
      objects.listNamespacedCustomObject({ ...KUBEVIRT, namespace, plural }) as Promise<{
        items: { metadata?: { name?: string } }[];
      }>;
    const vms = await list("virtualmachines");
    await Promise.all(vms.items.map((vm) => deleteVm(vm.metadata?.name ?? "")));
    await waitFor("all VMIs to be deleted", async () =>
      (await list("virtualmachineinstances")).items.length === 0 ? true : undefined,
    );
    await simulator.stop();
  }

  function aVm(name: string, tee: "tdx" | "snp" = "tdx", nodeName = "gpu-node-3"): VirtualMachine {
    const gpus = [
      { pciAddress: "0000:19:00.0", model: H100 },
      { pciAddress: "0000:3b:00.0", model: H100 },
    ];
    const cvm = aConfidentialVM({ tee, gpus: { count: gpus.length, model: H100 } }, name);
    cvm.metadata.namespace = namespace;
    return buildVirtualMachine(cvm, { nodeName, gpus });
  }

  async function create(vm: VirtualMachine): Promise<VirtualMachine> {
    return (await objects.createNamespacedCustomObject({
      ...KUBEVIRT,
      namespace,
      plural: "virtualmachines",
      body: vm,
    })) as VirtualMachine;
  }

  async function get<T>(plural: string, name: string): Promise<T | undefined> {
    try {
      return (await objects.getNamespacedCustomObject({ ...KUBEVIRT, namespace, plural, name })) as T;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
  const getVm = (name: string) => get<VirtualMachine>("virtualmachines", name);
  const getVmi = (name: string) => get<VirtualMachineInstance>("virtualmachineinstances", name);

  async function patchVm(name: string, body: object): Promise<void> {
    await objects.patchNamespacedCustomObject(
      { ...KUBEVIRT, namespace, plural: "virtualmachines", name, body },
      mergePatch,
    );
  }

  async function deleteVm(name: string): Promise<void> {
    await objects.deleteNamespacedCustomObject({ ...KUBEVIRT, namespace, plural: "virtualmachines", name });
  }

  async function vmiInPhase(name: string, phase: string, uidOtherThan?: string) {
    let last: VirtualMachineInstance | undefined;
    return waitFor(
      `VMI ${name} in phase ${phase}`,
      async () => {
        last = await getVmi(name);
        const fresh = uidOtherThan === undefined || last?.metadata?.uid !== uidOtherThan;
        return last?.status?.phase === phase && fresh ? last : undefined;
      },
      { describeLast: () => JSON.stringify(last?.status ?? "no VMI") },
    );
  }

  async function vmPrintableStatus(name: string, printableStatus: string): Promise<VirtualMachine> {
    let last: VirtualMachine | undefined;
    return waitFor(
      `VM ${name} printableStatus ${printableStatus}`,
      async () => {
        last = await getVm(name);
        return last?.status?.printableStatus === printableStatus ? last : undefined;
      },
      { describeLast: () => JSON.stringify(last?.status ?? "no VM") },
    );
  }

  async function vmiGone(name: string): Promise<void> {
    await waitFor(`VMI ${name} to be deleted`, async () =>
      (await getVmi(name)) === undefined ? true : undefined,
    );
  }

  describe("stepping each VMI through its phases", function () {
    const failByHook = new Set<string>();
    before(async function () {
      await startSimulator({
        stepDelayMs: STEP_DELAY_MS,
        failVmi: (vmi) => failByHook.has(vmi.metadata?.name ?? ""),
      });
    });
    after(async function () {
      await stopSimulator();
    });

    for (const tee of ["tdx", "snp"] as const) {
      it(`runs a ${tee.toUpperCase()} VM from our builder: VMI Running on the selected node, VM Running`, async function () {
        const started = performance.now();
        const vm = await create(aVm(`run-${tee}`, tee));
        const seen: string[] = [];
        const running = await waitFor("VM printableStatus Running", async () => {
          const current = await getVm(`run-${tee}`);
          const status = current?.status?.printableStatus;
          if (status !== undefined && seen.at(-1) !== status) seen.push(status);
          return status === "Running" ? current : undefined;
        });
        expect(seen).to.deep.equal(["Starting", "Running"]);
        // Pending → Scheduling → Scheduled → Running: three steps, each after stepDelayMs.
        expect(performance.now() - started).to.be.at.least(3 * STEP_DELAY_MS);
        expect(running.status).to.include({ ready: true, created: true });

        const vmi = await vmiInPhase(`run-${tee}`, "Running");
        expect(vmi.status?.nodeName).to.equal("gpu-node-3");
        expect(vmi.status?.phaseTransitionTimestamps?.map((t) => t.phase)).to.deep.equal([
          "Pending",
          "Scheduling",
          "Scheduled",
          "Running",
        ]);
        expect(vmi.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
        expect(vmi.spec).to.deep.equal(vm.spec.template.spec);
        expect(vmi.metadata?.labels).to.deep.equal(vm.spec.template.metadata?.labels);
        expect(vmi.metadata?.ownerReferences).to.deep.equal([
          {
            apiVersion: "kubevirt.io/v1",
            kind: "VirtualMachine",
            name: `run-${tee}`,
            uid: vm.metadata?.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ]);
        expect(running.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
      });
    }

    it("deletes the VMI when its VM is deleted (no garbage collector on this control plane)", async function () {
      await create(aVm("deleted"));
      await vmiInPhase("deleted", "Running");
      await deleteVm("deleted");
      await vmiGone("deleted");
    });

    it("fails the VMI on the fail annotation, and restarts it (runStrategy Always) once it is removed", async function () {
      await create(aVm("annotated"));
      const first = await vmiInPhase("annotated", "Running");
      await patchVm("annotated", {
        metadata: { annotations: { [FAIL_ANNOTATION]: "GPU fell off the bus" } },
      });

      const failed = await vmiInPhase("annotated", "Failed");
      const ready = failed.status?.conditions?.find((c) => c.type === "Ready");
      expect(ready).to.include({ status: "False", message: "GPU fell off the bus" });
      const vm = await vmPrintableStatus("annotated", "CrashLoopBackOff");
      expect(vm.status?.ready).to.equal(false);

      await patchVm("annotated", { metadata: { annotations: { [FAIL_ANNOTATION]: null } } });
      const restarted = await vmiInPhase("annotated", "Running", first.metadata?.uid);
      expect(restarted.metadata?.uid).to.not.equal(first.metadata?.uid);
      await vmPrintableStatus("annotated", "Running");
    });

    it("fails the VMI through the failVmi hook; with runStrategy Once it stays failed", async function () {
      const vm = aVm("hooked");
      vm.spec.runStrategy = "Once";
      await create(vm);
      await vmiInPhase("hooked", "Running");
      failByHook.add("hooked");
      await vmiInPhase("hooked", "Failed");
      await vmPrintableStatus("hooked", "Stopped");
      failByHook.delete("hooked");
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await getVmi("hooked"))?.status?.phase).to.equal("Failed");
    });

    it("creates no VMI for a Halted VM, starts one when set to Always and deletes it when Halted again", async function () {
      const vm = aVm("halted");
      vm.spec.runStrategy = "Halted";
      await create(vm);
      const stopped = await vmPrintableStatus("halted", "Stopped");
      expect(stopped.status).to.include({ created: false, ready: false });
      expect(await getVmi("halted")).to.equal(undefined);

      await patchVm("halted", { spec: { runStrategy: "Always" } });
      await vmiInPhase("halted", "Running");
      await vmPrintableStatus("halted", "Running");

      await patchVm("halted", { spec: { runStrategy: "Halted" } });
      await vmiGone("halted");
      await vmPrintableStatus("halted", "Stopped");
    });

    it("leaves a VMI that cannot be placed in Scheduling with an Unschedulable condition", async function () {
      const vm = aVm("nowhere");
      delete vm.spec.template.spec?.nodeSelector?.["kubernetes.io/hostname"];
      await create(vm);
      await vmPrintableStatus("nowhere", "ErrorUnschedulable");
      const vmi = await getVmi("nowhere");
      expect(vmi?.status?.phase).to.equal("Scheduling");
      expect(vmi?.status?.nodeName).to.equal(undefined);
      expect(vmi?.status?.conditions?.find((c) => c.type === "PodScheduled")).to.include({
        status: "False",
        reason: "Unschedulable",
      });
    });

    it("writes nothing once a VM has settled, across several resyncs", async function () {
      await vmPrintableStatus("run-tdx", "Running");
      const names = ["run-tdx", "nowhere"];
      const versions = async () =>
        Promise.all(
          names.flatMap((name) => [
            getVm(name).then((o) => o?.metadata?.resourceVersion),
            getVmi(name).then((o) => o?.metadata?.resourceVersion),
          ]),
        );
      const before = await versions();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await versions()).to.deep.equal(before);
    });
  });

  describe("with matchNodes and startRunning", function () {
    const node = `sim-node-${suffix}`;
    before(async function () {
      await core.createNode({ body: { metadata: { name: node, labels: { [LABEL_VALIDATED]: "true" } } } });
      await startSimulator({ matchNodes: true, startRunning: true });
    });
    after(async function () {
      await stopSimulator();
      await core.deleteNode({ name: node });
    });

    it("creates the VMI already Running on a matching node: one write, every phase recorded", async function () {
      await create(aVm("direct", "tdx", node));
      const vmi = await vmiInPhase("direct", "Running");
      expect(vmi.status?.nodeName).to.equal(node);
      expect(vmi.status?.phaseTransitionTimestamps?.map((t) => t.phase)).to.deep.equal([
        "Pending",
        "Scheduling",
        "Scheduled",
        "Running",
      ]);
      // Without a status subresource every write bumps the generation.
      expect(vmi.metadata?.generation).to.equal(1);
      const vm = await vmPrintableStatus("direct", "Running");
      expect(vm.status).to.include({ ready: true, created: true });
    });

    it("keeps a VMI unschedulable until its node carries the selected labels, then runs it", async function () {
      const vm = aVm("waits-for-label", "tdx", node);
      const selector = vm.spec.template.spec?.nodeSelector ?? {};
      selector["trustgate.io/tee"] = "tdx";
      await create(vm);
      await vmPrintableStatus("waits-for-label", "ErrorUnschedulable");
      expect((await getVmi("waits-for-label"))?.status?.phase).to.equal("Scheduling");

      await core.patchNode(
        { name: node, body: { metadata: { labels: { "trustgate.io/tee": "tdx" } } } },
        mergePatch,
      );
      const vmi = await vmiInPhase("waits-for-label", "Running");
      expect(vmi.status?.nodeName).to.equal(node);
    });

    it("cannot place a VMI on a node that does not exist", async function () {
      await create(aVm("no-such-node", "tdx", `missing-${suffix}`));
      await vmPrintableStatus("no-such-node", "ErrorUnschedulable");
      const vmi = await getVmi("no-such-node");
      expect(vmi?.status?.conditions?.find((c) => c.type === "PodScheduled")?.message).to.match(
        /nodes are available/,
      );
    });
  });
});
