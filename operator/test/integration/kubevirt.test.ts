import { expect } from "chai";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { join } from "node:path";
import { applyCrds, readCrdFile } from "../support/crd-install.ts";
import { apiErrorStatus } from "../../src/kube/api-error.ts";
import type { VirtualMachine } from "../../src/kubevirt/generated/types.ts";
import { buildVirtualMachine } from "../../src/kubevirt/virtual-machine.ts";
import { aConfidentialVM } from "../support/builders/confidential-vm.ts";
import { kubeConfig } from "../support/control-plane.ts";
import { REPO_ROOT } from "../support/samples.ts";

const KUBEVIRT = { group: "kubevirt.io", version: "v1" };
const H100 = "H100-SXM5-80GB";

describe("generated VirtualMachines on KubeVirt's real CRD schema", function () {
  let kc: KubeConfig;
  let objects: CustomObjectsApi;
  const namespace = `kubevirt-${Date.now().toString(36)}`;

  before(async function () {
    kc = await kubeConfig();
    objects = kc.makeApiClient(CustomObjectsApi);
    const files = ["virtualmachines.kubevirt.io.yaml", "virtualmachineinstances.kubevirt.io.yaml"];
    const crds = (
      await Promise.all(files.map((f) => readCrdFile(join(REPO_ROOT, "hack/kubevirt/crds", f))))
    ).flat();
    await applyCrds(kc, crds, 60_000);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  const variants = [
    {
      tee: "tdx" as const,
      gpus: [
        { pciAddress: "0000:19:00.0", model: H100 },
        { pciAddress: "0000:3b:00.0", model: H100 },
      ],
    },
    { tee: "snp" as const, gpus: [{ pciAddress: "0000:45:00.0", model: H100 }] },
  ];

  for (const variant of variants) {
    describe(`${variant.tee.toUpperCase()} with ${variant.gpus.length} H100`, function () {
      function build(): VirtualMachine {
        const cvm = aConfidentialVM(
          { tee: variant.tee, gpus: { count: variant.gpus.length, model: H100 } },
          `cvm-${variant.tee}`,
        );
        cvm.metadata.namespace = namespace;
        return buildVirtualMachine(cvm, { nodeName: "gpu-node-1", gpus: variant.gpus });
      }

      it("is accepted as a VirtualMachine with strict field validation, and stored without pruning", async function () {
        const vm = build();
        await objects.createNamespacedCustomObject({
          ...KUBEVIRT,
          namespace,
          plural: "virtualmachines",
          body: vm,
          fieldValidation: "Strict",
        });
        const stored = (await objects.getNamespacedCustomObject({
          ...KUBEVIRT,
          namespace,
          plural: "virtualmachines",
          name: vm.metadata?.name ?? "",
        })) as VirtualMachine;
        expect(stored.spec).to.deep.equal(vm.spec);
        expect(stored.metadata?.ownerReferences).to.deep.equal(vm.metadata?.ownerReferences);
      });

      it("is accepted as a VirtualMachineInstance built from the VM template", async function () {
        const vm = build();
        const body = {
          apiVersion: "kubevirt.io/v1",
          kind: "VirtualMachineInstance",
          metadata: { name: vm.metadata?.name, namespace, labels: vm.spec.template.metadata?.labels },
          spec: vm.spec.template.spec,
        };
        const stored = (await objects.createNamespacedCustomObject({
          ...KUBEVIRT,
          namespace,
          plural: "virtualmachineinstances",
          body,
          fieldValidation: "Strict",
        })) as { spec: unknown };
        expect(stored.spec).to.deep.equal(body.spec);
      });
    });
  }

  describe("TDX with a whole PPCIe board (8 H100s as GPUs, 4 NVSwitches as host devices)", function () {
    const board = {
      nodeName: "hgx-1",
      gpus: ["18", "2a", "3a", "5d", "9a", "ab", "ba", "db"].map((b) => ({
        pciAddress: `0000:${b}:00.0`,
        model: H100,
      })),
      nvswitches: ["05", "06", "07", "08"].map((b) => ({ pciAddress: `0000:${b}:00.0` })),
    };

    function build(name: string): VirtualMachine {
      const cvm = aConfidentialVM({ tee: "tdx", gpus: { mode: "ppcie", model: H100 } }, name);
      cvm.metadata.namespace = namespace;
      return buildVirtualMachine(cvm, board);
    }

    it("is accepted as a VirtualMachine and a VirtualMachineInstance with strict field validation, nothing pruned", async function () {
      const vm = build("cvm-ppcie-board");
      expect(vm.spec.template.spec?.domain.devices.gpus).to.have.length(8);
      expect(vm.spec.template.spec?.domain.devices.hostDevices).to.have.length(4);
      await objects.createNamespacedCustomObject({
        ...KUBEVIRT,
        namespace,
        plural: "virtualmachines",
        body: vm,
        fieldValidation: "Strict",
      });
      const stored = (await objects.getNamespacedCustomObject({
        ...KUBEVIRT,
        namespace,
        plural: "virtualmachines",
        name: vm.metadata?.name ?? "",
      })) as VirtualMachine;
      expect(stored.spec).to.deep.equal(vm.spec);
      expect(stored.spec.template.spec?.domain.devices.hostDevices?.map((d) => d.deviceName)).to.deep.equal(
        Array(4).fill("nvidia.com/GH100_H100_NVSWITCH"),
      );
      const vmi = {
        apiVersion: "kubevirt.io/v1",
        kind: "VirtualMachineInstance",
        metadata: { name: vm.metadata?.name, namespace, labels: vm.spec.template.metadata?.labels },
        spec: vm.spec.template.spec,
      };
      const storedVmi = (await objects.createNamespacedCustomObject({
        ...KUBEVIRT,
        namespace,
        plural: "virtualmachineinstances",
        body: vmi,
        fieldValidation: "Strict",
      })) as { spec: unknown };
      expect(storedVmi.spec).to.deep.equal(vmi.spec);
    });

    it("proves the host device schema is enforced: a host device without its required name is rejected", async function () {
      const vm = build("cvm-ppcie-bad");
      const hostDevices = vm.spec.template.spec?.domain.devices.hostDevices as unknown as Record<
        string,
        unknown
      >[];
      delete hostDevices[0]?.["name"];
      try {
        await objects.createNamespacedCustomObject({
          ...KUBEVIRT,
          namespace,
          plural: "virtualmachines",
          body: vm,
          fieldValidation: "Strict",
        });
        expect.fail("the API server accepted a host device without a name");
      } catch (error) {
        const status = apiErrorStatus(error);
        expect(status?.code).to.be.oneOf([400, 422]);
        expect(status?.message).to.match(/hostDevices\[0\]\.name/);
      }
    });
  });

  it("proves the schema is enforced: a misspelt field and a wrong type are rejected", async function () {
    const vm = buildVirtualMachine(aConfidentialVM({}, "bad-vm"), { nodeName: "n", gpus: [] });
    const domain = vm.spec.template.spec?.domain as unknown as Record<string, unknown>;
    domain["launchSecurty"] = domain["launchSecurity"];
    (vm.spec as unknown as Record<string, unknown>)["runStrategy"] = 5;
    try {
      await objects.createNamespacedCustomObject({
        ...KUBEVIRT,
        namespace,
        plural: "virtualmachines",
        body: { ...vm, metadata: { ...vm.metadata, namespace } },
        fieldValidation: "Strict",
      });
      expect.fail("the API server accepted an invalid VirtualMachine");
    } catch (error) {
      const status = apiErrorStatus(error);
      expect(status?.code).to.be.oneOf([400, 422]);
      expect(status?.message).to.match(/launchSecurty|runStrategy/);
    }
  });
});
