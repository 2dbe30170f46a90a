import { expect } from "chai";
import { aConfidentialVM } from "../builders/confidential-vm.ts";
import { buildVirtualMachine } from "../../../src/kubevirt/virtual-machine.ts";
import { checkVirtualMachineAdmission } from "./webhook-rules.ts";
import { accepted, CC_GATES, CLUSTER, H100_RESOURCE, SPEC, withSpec } from "./webhook-rule-cases.ts";
import { refused } from "./webhook-rule-refusals.ts";
describe("checkVirtualMachineAdmission", () => {
  describe("accepts", () => {
    for (const c of accepted) {
      it(c.name, () => {
        expect(checkVirtualMachineAdmission(c.vm, c.config ?? CLUSTER)).to.deep.equal([]);
      });
    }
  });

  describe("refuses", () => {
    for (const c of refused) {
      it(c.name, () => {
        expect(checkVirtualMachineAdmission(c.vm, c.config ?? CLUSTER)).to.deep.equal(c.violations);
      });
    }
  });

  it("refuses a VM whose template has no spec", () => {
    const vm = withSpec((_, vm) => delete vm.spec.template.spec);
    expect(checkVirtualMachineAdmission(vm, CLUSTER)).to.deep.equal([
      { path: SPEC, message: "the VMI template has no spec" },
    ]);
  });

  describe("our builder's confidential VMs with H100s", () => {
    const H100 = "H100-SXM5-80GB";
    const gpus = ["0000:19:00.0", "0000:3b:00.0", "0000:4c:00.0", "0000:5d:00.0"].map((pciAddress) => ({
      pciAddress,
      model: H100,
    }));
    for (const tee of ["tdx", "snp"] as const) {
      for (const count of [0, 1, 4]) {
        it(`passes for ${tee.toUpperCase()} with ${count} GPU${count === 1 ? "" : "s"}`, () => {
          const cvm = aConfidentialVM({ tee, gpus: { count, model: H100 } });
          const vm = buildVirtualMachine(cvm, { nodeName: "gpu-node-1", gpus: gpus.slice(0, count) });
          expect(checkVirtualMachineAdmission(vm, CLUSTER)).to.deep.equal([]);
        });
      }
    }

    describe("a whole PPCIe board (8 GPUs, 4 NVSwitches as host devices)", () => {
      const board = {
        nodeName: "hgx-1",
        gpus: Array.from({ length: 8 }, (_, i) => ({
          pciAddress: `0000:${(0x18 + i).toString(16)}:00.0`,
          model: H100,
        })),
        nvswitches: ["05", "06", "07", "08"].map((b) => ({ pciAddress: `0000:${b}:00.0` })),
      };
      const vm = () => buildVirtualMachine(aConfidentialVM({ tee: "tdx", gpus: { mode: "ppcie" } }), board);
      const nvswitch = "nvidia.com/GH100_H100_NVSWITCH";

      it("passes with the HostDevices gate and the NVSwitch resource permitted", () => {
        const config = {
          featureGates: [...CC_GATES, "HostDevices"],
          permittedHostDevices: [H100_RESOURCE, nvswitch],
        };
        expect(checkVirtualMachineAdmission(vm(), config)).to.deep.equal([]);
      });

      it("is refused without the HostDevices gate or with the NVSwitch not permitted", () => {
        const violations = checkVirtualMachineAdmission(vm(), CLUSTER);
        expect(violations.map((v) => v.message)).to.deep.equal([
          "host devices need the HostDevices feature gate",
          ...Array.from(
            { length: 4 },
            () => `${nvswitch} is not permitted in permittedHostDevices configuration`,
          ),
        ]);
      });
    });

    it("would be refused by a v1.9 cluster that leaves the Alpha TDX gate off", () => {
      const cvm = aConfidentialVM({ tee: "tdx", gpus: { count: 1, model: H100 } });
      const vm = buildVirtualMachine(cvm, { nodeName: "gpu-node-1", gpus: gpus.slice(0, 1) });
      const violations = checkVirtualMachineAdmission(vm, {
        featureGates: ["WorkloadEncryptionSEV"],
        permittedHostDevices: [H100_RESOURCE],
      });
      expect(violations.map((v) => v.message)).to.deep.equal([
        "TDX needs the WorkloadEncryptionTDX feature gate",
      ]);
    });
  });
});
