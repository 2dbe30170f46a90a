import { expect } from "chai";
import type { VirtualMachine, VirtualMachineInstance } from "../../kubevirt/generated/types.ts";
import { aConfidentialHost } from "../../../test/support/builders/confidential-host.ts";
import { aConfidentialVM } from "../../../test/support/builders/confidential-vm.ts";
import { hostState, placementFitsSpec, vmState } from "./lifecycle.ts";

const placement = { nodeName: "gpu-node-1", gpus: [{ pciAddress: "0000:19:00.0", model: "H100-SXM5-80GB" }] };

function vm(hash: string, overrides: Partial<VirtualMachine["spec"]> = {}): VirtualMachine {
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachine",
    metadata: { name: "v", annotations: { "trustgate.io/launch-hash": hash } },
    spec: { runStrategy: "Always", template: {}, ...overrides },
  };
}

function vmi(phase: string, nodeName = "gpu-node-1"): VirtualMachineInstance {
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachineInstance",
    metadata: { name: "v" },
    spec: { domain: { devices: {} } },
    status: { phase, nodeName },
  };
}

describe("ConfidentialVM lifecycle decisions", () => {
  describe("placementFitsSpec", () => {
    it("fits when count and model match", () => {
      expect(
        placementFitsSpec(aConfidentialVM({ gpus: { count: 1, model: "H100-SXM5-80GB" } }), placement),
      ).to.equal(true);
    });
    it("does not fit after the GPU count changed", () => {
      expect(placementFitsSpec(aConfidentialVM({ gpus: { count: 2 } }), placement)).to.equal(false);
    });
    it("does not fit after the GPU model changed", () => {
      expect(
        placementFitsSpec(aConfidentialVM({ gpus: { count: 1, model: "H200-SXM-141GB" } }), placement),
      ).to.equal(false);
    });
  });

  describe("hostState", () => {
    it("is ok for a Validated host", () => {
      const host = aConfidentialHost({
        conditions: [
          { type: "Validated", status: "True", reason: "HostValid", message: "", lastTransitionTime: "x" },
        ],
      });
      expect(hostState(host, "gpu-node-1")).to.deep.equal({ ok: true });
    });
    it("names the host's own reason when it is not Validated", () => {
      const host = aConfidentialHost({
        conditions: [
          {
            type: "Validated",
            status: "False",
            reason: "GPUsNotReady",
            message: "GPU 0000:45:00.0 CC mode off",
            lastTransitionTime: "x",
          },
        ],
      });
      expect(hostState(host, "gpu-node-1")).to.deep.equal({
        ok: false,
        reason: "invalid",
        message: "host gpu-node-1 not Validated: GPU 0000:45:00.0 CC mode off",
      });
    });
    it("reports a host that disappeared", () => {
      expect(hostState(undefined, "gpu-node-9")).to.deep.equal({
        ok: false,
        reason: "gone",
        message: "ConfidentialHost gpu-node-9 not found",
      });
    });
  });

  describe("vmState", () => {
    const cases: [string, VirtualMachine | undefined, VirtualMachineInstance | undefined, string][] = [
      ["no VM yet", undefined, undefined, "missing"],
      ["a VM rendered from an older spec", vm("old"), undefined, "outdated"],
      ["a halted VM", vm("h", { runStrategy: "Halted" }), undefined, "halted"],
      ["a VM whose VMI is still scheduling", vm("h"), vmi("Scheduling"), "starting"],
      ["a VM whose VMI runs on the placed host", vm("h"), vmi("Running"), "running"],
      ["a VM whose VMI runs elsewhere", vm("h"), vmi("Running", "other-node"), "failed"],
      ["a VM whose VMI failed", vm("h"), vmi("Failed"), "failed"],
    ];
    for (const [name, machine, instance, kind] of cases) {
      it(`is ${kind} for ${name}`, () => {
        expect(
          vmState(
            machine,
            instance,
            (v) => v.metadata?.annotations?.["trustgate.io/launch-hash"] === "h",
            "gpu-node-1",
          ).kind,
        ).to.equal(kind);
      });
    }
  });
});
