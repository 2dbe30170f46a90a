import { expect } from "chai";
import { aConfidentialVM } from "../../test/support/builders/confidential-vm.ts";
import {
  buildVirtualMachine,
  DEFAULT_NVSWITCH_RESOURCE_NAME,
  guestConfigSecretName,
  rootDataVolumeName,
  VmBuildError,
} from "./virtual-machine.ts";
import { validateVirtualMachine } from "../../test/support/kubevirt/validation.ts";

const H100 = "H100-SXM5-80GB";
const twoGpus = [
  { pciAddress: "0000:19:00.0", model: H100 },
  { pciAddress: "0000:3b:00.0", model: H100 },
];

describe("buildVirtualMachine", () => {
  const cases = [
    {
      name: "a TDX guest gets launchSecurity.tdx, stateless EFI and SMM off",
      cvm: aConfidentialVM({ tee: "tdx", gpus: { count: 2, model: H100 } }),
      gpus: twoGpus,
      launchSecurity: { tdx: {} },
      features: { smm: { enabled: false } },
    },
    {
      name: "an SNP guest gets launchSecurity.snp and Secure Boot explicitly off",
      cvm: aConfidentialVM({ tee: "snp", gpus: { count: 1 } }),
      gpus: twoGpus.slice(0, 1),
      launchSecurity: { snp: {} },
      features: {},
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const vm = buildVirtualMachine(c.cvm, { nodeName: "gpu-node-1", gpus: c.gpus });
      const domain = vm.spec.template.spec?.domain;
      expect(domain?.launchSecurity).to.deep.equal(c.launchSecurity);
      expect(domain?.features).to.deep.equal(c.features);
      expect(domain?.firmware?.bootloader?.efi).to.deep.equal({ secureBoot: false, persistent: false });
      expect(domain?.devices.gpus).to.deep.equal(
        c.gpus.map((_, i) => ({ name: `gpu${i}`, deviceName: "nvidia.com/GH100_H100_SXM5_80GB" })),
      );
      const result = validateVirtualMachine(vm);
      expect(result.ok, JSON.stringify(result)).to.equal(true);
    });
  }

  describe("a whole PPCIe board (spec.gpus.mode ppcie)", () => {
    const board = {
      nodeName: "hgx-1",
      gpus: ["18", "2a", "3a", "5d", "9a", "ab", "ba", "db"].map((b) => ({
        pciAddress: `0000:${b}:00.0`,
        model: H100,
      })),
      nvswitches: ["05", "06", "07", "08"].map((b) => ({ pciAddress: `0000:${b}:00.0` })),
    };
    const cvm = aConfidentialVM({ tee: "tdx", gpus: { mode: "ppcie", model: H100 } });

    it("renders the 8 GPUs as GPUs and the 4 NVSwitches as host devices, valid under KubeVirt's schema", () => {
      const vm = buildVirtualMachine(cvm, board);
      const devices = vm.spec.template.spec?.domain.devices;
      expect(devices?.gpus?.map((g) => g.deviceName)).to.deep.equal(
        Array(8).fill("nvidia.com/GH100_H100_SXM5_80GB"),
      );
      expect(devices?.hostDevices).to.deep.equal(
        [0, 1, 2, 3].map((i) => ({ name: `nvswitch${i}`, deviceName: DEFAULT_NVSWITCH_RESOURCE_NAME })),
      );
      expect(DEFAULT_NVSWITCH_RESOURCE_NAME).to.equal("nvidia.com/GH100_H100_NVSWITCH");
      const result = validateVirtualMachine(vm);
      expect(result.ok, JSON.stringify(result)).to.equal(true);
    });

    it("takes the cluster's NVSwitch resource name when given one", () => {
      const vm = buildVirtualMachine(cvm, board, { nvswitchResourceName: "example.com/LS10" });
      expect(vm.spec.template.spec?.domain.devices.hostDevices?.map((d) => d.deviceName)).to.deep.equal(
        Array(4).fill("example.com/LS10"),
      );
    });

    it("renders no host devices for a CC-mode CVM", () => {
      const vm = buildVirtualMachine(aConfidentialVM({ gpus: { count: 2 } }), {
        nodeName: "n",
        gpus: twoGpus,
      });
      expect(vm.spec.template.spec?.domain.devices).to.not.have.property("hostDevices");
    });

    it("refuses a board missing a switch, and switches for a CC-mode CVM", () => {
      expect(() => buildVirtualMachine(cvm, { ...board, nvswitches: board.nvswitches.slice(1) })).to.throw(
        VmBuildError,
        "placement has 8 GPUs and 3 NVSwitches, a PPCIe board is 8 and 4",
      );
      const cc = aConfidentialVM({ gpus: { count: 8 } });
      expect(() => buildVirtualMachine(cc, board)).to.throw(
        VmBuildError,
        "placement has 4 NVSwitches, a CC-mode CVM gets none",
      );
    });
  });

  it("pins the VM to the placed, validated node and keeps the user's node selector", () => {
    const cvm = aConfidentialVM({ nodeSelector: { "topology.kubernetes.io/zone": "colo-a" } });
    const vm = buildVirtualMachine(cvm, { nodeName: "gpu-node-7", gpus: [] });
    expect(vm.spec.template.spec?.nodeSelector).to.deep.equal({
      "topology.kubernetes.io/zone": "colo-a",
      "kubernetes.io/hostname": "gpu-node-7",
      "trustgate.io/validated": "true",
    });
    expect(vm.spec.template.spec?.evictionStrategy).to.equal("None");
  });

  it("is owned by its ConfidentialVM and labelled with its name", () => {
    const cvm = aConfidentialVM();
    const vm = buildVirtualMachine(cvm, { nodeName: "n", gpus: [] });
    expect(vm.metadata?.ownerReferences).to.deep.equal([
      {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialVM",
        name: "llm-inference",
        uid: cvm.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(vm.metadata?.labels).to.deep.equal({ "trustgate.io/confidentialvm": "llm-inference" });
    expect(vm.metadata?.namespace).to.equal("team-a");
  });

  it("boots the digest-pinned containerDisk and the guest config from its Secret", () => {
    const vm = buildVirtualMachine(aConfidentialVM(), { nodeName: "n", gpus: [] });
    const volumes = vm.spec.template.spec?.volumes ?? [];
    expect(volumes[0]?.containerDisk?.image).to.match(/@sha256:[0-9a-f]{64}$/);
    expect(volumes[1]?.cloudInitNoCloud?.secretRef?.name).to.equal(guestConfigSecretName("llm-inference"));
  });

  it("boots an http image from its DataVolume", () => {
    const cvm = aConfidentialVM({
      image: { http: { url: "https://images.example.com/cvm.qcow2", sha256: "0f".repeat(32) } },
    });
    const vm = buildVirtualMachine(cvm, { nodeName: "n", gpus: [] });
    expect(vm.spec.template.spec?.volumes?.[0]).to.deep.equal({
      name: "root",
      dataVolume: { name: rootDataVolumeName("llm-inference") },
    });
  });

  const refusals = [
    {
      name: "fewer placed GPUs than asked for",
      cvm: aConfidentialVM({ gpus: { count: 2 } }),
      gpus: twoGpus.slice(1),
      error: "placement has 1 GPUs, spec.gpus.count is 2",
    },
    {
      name: "a GPU model without a known device plugin resource",
      cvm: aConfidentialVM({ gpus: { count: 1 } }),
      gpus: [{ pciAddress: "0000:19:00.0", model: "A100" }],
      error: "unknown model A100",
    },
    {
      name: "an object the API server has not stored yet (no uid)",
      cvm: { ...aConfidentialVM(), metadata: { name: "x" } },
      gpus: [],
      error: "no name or uid",
    },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name}`, () => {
      expect(() => buildVirtualMachine(r.cvm, { nodeName: "n", gpus: r.gpus })).to.throw(
        VmBuildError,
        r.error,
      );
    });
  }
});
