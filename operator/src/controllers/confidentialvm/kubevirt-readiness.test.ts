import type { V1Node } from "@kubernetes/client-node";
import { expect } from "chai";
import { aConfidentialHost, anH100 } from "../../../test/support/builders/confidential-host.ts";
import { aConfidentialVM } from "../../../test/support/builders/confidential-vm.ts";
import { exampleKubeVirt } from "../../../test/support/kubevirt/installation.ts";
import type { KubeVirt, VirtualMachine } from "../../kubevirt/generated/types.ts";
import { gpuResourceDefaults } from "../../kubevirt/gpu-resource-names.ts";
import type { KubeVirtApi } from "../../kubevirt/preflight.ts";
import { buildVirtualMachine, type VmPlacement } from "../../kubevirt/virtual-machine.ts";
import { type KubeVirtAccess, KubeVirtPreflight } from "./kubevirt-preflight.ts";
import { kubeVirtReadiness, kubeVirtReadyCondition, requestedDevices } from "./kubevirt-readiness.ts";

const H100_SXM = "nvidia.com/GH100_H100_SXM5_80GB";
const placement: VmPlacement = {
  nodeName: "gpu-node-1",
  gpus: [
    { pciAddress: "0000:19:00.0", model: "H100-SXM5-80GB" },
    { pciAddress: "0000:3b:00.0", model: "H100-SXM5-80GB" },
  ],
};
const tdxCvm = aConfidentialVM({ tee: "tdx", gpus: { count: 2, model: "H100-SXM5-80GB" } });

function tdxNode(
  allocatable: Record<string, string> = { "devices.kubevirt.io/tdx": "15", [H100_SXM]: "8" },
): V1Node {
  return {
    metadata: {
      name: "gpu-node-1",
      labels: { "kubevirt.io/schedulable": "true", "kubevirt.io/tdx": "true" },
    },
    status: { allocatable },
  };
}

const synced = (kv: KubeVirt = exampleKubeVirt()): KubeVirtApi => ({ state: "synced", kubevirts: [kv] });

describe("kubeVirtReadiness (a ConfidentialVM, its rendered VM and its Node)", () => {
  const vm = buildVirtualMachine(tdxCvm, placement);

  it("counts the device resources the VirtualMachine requests", () => {
    expect([...requestedDevices(vm)]).to.deep.equal([[H100_SXM, 2]]);
    expect(requestedDevices(undefined).size).to.equal(0);
  });

  const cases: {
    name: string;
    api?: KubeVirtApi;
    vm?: VirtualMachine;
    node?: V1Node | null;
    cvm?: typeof tdxCvm;
    dataVolumeApi?: boolean;
    want: { status: "True" | "False"; reason: string; message: RegExp };
  }[] = [
    {
      name: "ready: the documented KubeVirt CR and a Node with virt-handler's labels and devices",
      want: {
        status: "True",
        reason: "KubeVirtReady",
        message: /^KubeVirt can launch this VM on gpu-node-1$/,
      },
    },
    {
      name: "before placement only the cluster is checked",
      node: null,
      vm: undefined,
      want: { status: "True", reason: "KubeVirtReady", message: /Node is checked once it is placed/ },
    },
    {
      name: "KubeVirt not installed: nothing else is checked",
      api: { state: "absent" },
      want: {
        status: "False",
        reason: "KubeVirtNotInstalled",
        message: /^KubeVirt CRDs not installed[^;]*$/,
      },
    },
    {
      name: "the Node lacks KubeVirt's TDX label and has too few GPUs",
      node: {
        metadata: { name: "gpu-node-1", labels: { "kubevirt.io/schedulable": "true" } },
        status: { allocatable: { "devices.kubevirt.io/tdx": "15", [H100_SXM]: "1" } },
      },
      want: {
        status: "False",
        reason: "NodeNotReadyForKubeVirt",
        message:
          /^Node gpu-node-1 lacks label kubevirt.io\/tdx=true .*; Node gpu-node-1 has 1 allocatable nvidia.com\/GH100_H100_SXM5_80GB, the VM needs 2$/,
      },
    },
    {
      name: "cluster findings come before the Node's, and the first one is the reason",
      api: synced({ ...exampleKubeVirt(), status: { phase: "Deploying" } }),
      node: tdxNode({}),
      want: {
        status: "False",
        reason: "KubeVirtNotDeployed",
        message: /not Deployed; Node gpu-node-1 has no allocatable/,
      },
    },
    {
      name: "an http image without CDI",
      cvm: aConfidentialVM({
        tee: "tdx",
        gpus: { count: 2, model: "H100-SXM5-80GB" },
        image: { http: { url: "https://images.example.com/cvm.qcow2", sha256: "a".repeat(64) } },
      }),
      dataVolumeApi: false,
      want: { status: "False", reason: "CDINotInstalled", message: /DataVolume API/ },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const cvm = c.cvm ?? tdxCvm;
      const readiness = kubeVirtReadiness({
        api: c.api ?? synced(),
        cvm,
        ...("vm" in c
          ? c.vm === undefined
            ? {}
            : { vm: c.vm }
          : { vm: buildVirtualMachine(cvm, placement) }),
        ...(c.node === null ? {} : { host: { name: "gpu-node-1", node: c.node ?? tdxNode() } }),
        ...(c.dataVolumeApi === undefined ? {} : { dataVolumeApi: c.dataVolumeApi }),
      });
      const condition = kubeVirtReadyCondition(readiness);
      expect(readiness.ready).to.equal(c.want.status === "True");
      expect(condition).to.include({ type: "KubeVirtReady", status: c.want.status, reason: c.want.reason });
      expect(condition.message).to.match(c.want.message);
    });
});

describe("KubeVirtPreflight (the caches around the pure preflight)", () => {
  function preflight(
    overrides: Partial<KubeVirtAccess> = {},
    host = aConfidentialHost({ gpus: [anH100("0000:19:00.0"), anH100("0000:3b:00.0")] }),
  ): KubeVirtPreflight {
    return new KubeVirtPreflight(
      {
        api: () => synced(),
        node: () => tdxNode(),
        gpuResourceDefaults: gpuResourceDefaults(),
        dataVolumeApi: () => Promise.resolve(true),
        ...overrides,
      },
      (name) => (name === host.metadata.name ? host : undefined),
    );
  }

  it("names each GPU's resource from KubeVirt's permittedHostDevices by the host-reported device ID", () => {
    const kv = exampleKubeVirt();
    kv.spec.configuration?.permittedHostDevices?.pciHostDevices?.push({
      pciVendorSelector: "10DE:2331",
      resourceName: "example.com/pcie",
      externalResourceProvider: true,
    });
    const entries = kv.spec.configuration?.permittedHostDevices?.pciHostDevices ?? [];
    const h100Pcie = entries.findIndex((d) => d.resourceName === "nvidia.com/GH100_H100_PCIE");
    entries.splice(h100Pcie, 1);
    const host = aConfidentialHost({
      gpus: [anH100("0000:19:00.0"), anH100("0000:3b:00.0", { deviceId: "0x2331" })],
    });
    const resolved = preflight({ api: () => synced(kv) }, host).withResourceNames(placement, undefined);
    expect(resolved.gpus.map((g) => g.resourceName)).to.deep.equal([H100_SXM, "example.com/pcie"]);
  });

  it("keeps the resource names a running VM was launched with, so it is not relaunched", () => {
    const launched = buildVirtualMachine(tdxCvm, {
      ...placement,
      gpus: placement.gpus.map((g) => ({ ...g, resourceName: "example.com/old" })),
    });
    const resolved = preflight().withResourceNames(placement, launched);
    expect(resolved.gpus.map((g) => g.resourceName)).to.deep.equal(["example.com/old", "example.com/old"]);
    // Only GPU names survive the watch cache's trimming; that is what is read.
    const trimmed = {
      ...launched,
      spec: {
        template: { spec: { domain: { devices: { gpus: [{ deviceName: "a/x" }, { deviceName: "a/y" }] } } } },
      },
    };
    expect(
      preflight()
        .withResourceNames(placement, trimmed as unknown as VirtualMachine)
        .gpus.map((g) => g.resourceName),
    ).to.deep.equal(["a/x", "a/y"]);
  });

  it("checks the rendered VM's devices against the Node: too few advertised GPUs refuse the launch", async () => {
    const readiness = await preflight({
      node: () => tdxNode({ "devices.kubevirt.io/tdx": "15", [H100_SXM]: "1" }),
    }).readiness(tdxCvm, placement, undefined);
    expect(readiness.ready).to.equal(false);
    expect(readiness.reasons.map((r) => r.message)).to.deep.equal([
      "Node gpu-node-1 has 1 allocatable nvidia.com/GH100_H100_SXM5_80GB, the VM needs 2",
    ]);
  });

  it("asks about CDI only for http images", async () => {
    let asked = 0;
    const access = {
      dataVolumeApi: () => {
        asked++;
        return Promise.resolve(false);
      },
    };
    expect((await preflight(access).readiness(tdxCvm, undefined, undefined)).ready).to.equal(true);
    expect(asked).to.equal(0);
    const http = aConfidentialVM({
      image: { http: { url: "https://x.example/a.qcow2", sha256: "b".repeat(64) } },
    });
    const readiness = await preflight(access).readiness(http, undefined, undefined);
    expect(asked).to.equal(1);
    expect(readiness.reasons.map((r) => r.reason)).to.deep.equal(["CDINotInstalled"]);
  });

  it("refuses Nodes without KubeVirt's TEE label for placement, but leaves a missing Node to placement", () => {
    const unlabelled: V1Node = { metadata: { name: "gpu-node-1", labels: {} }, status: { allocatable: {} } };
    expect(preflight({ node: () => unlabelled }).nodeRefusals(tdxCvm, "gpu-node-1")).to.deep.equal([
      "KubeVirt: Node lacks label kubevirt.io/schedulable=true (virt-handler runs there and takes VMs), which virt-controller requires for this VM",
      "KubeVirt: Node lacks label kubevirt.io/tdx=true (virt-handler found TDX support), which virt-controller requires for this VM",
      "KubeVirt: Node has no allocatable devices.kubevirt.io/tdx (virt-handler's TDX device: needs the WorkloadEncryptionTDX gate, TDX keys in misc.capacity and, with QGS enforced, the socket /var/run/tdx-qgs/qgs.socket)",
    ]);
    expect(preflight({ node: () => undefined }).nodeRefusals(tdxCvm, "gpu-node-1")).to.deep.equal([]);
    expect(preflight({ api: () => ({ state: "absent" }) }).nodeRefusals(tdxCvm, "gpu-node-1")).to.deep.equal(
      [],
    );
  });
});
