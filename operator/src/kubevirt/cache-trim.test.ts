import { expect } from "chai";
import { trimVirtualMachine, trimVirtualMachineInstance } from "./cache-trim.ts";
import { launchedAsWanted } from "../controllers/confidentialvm/launch-hash.ts";
import { vmState } from "../controllers/confidentialvm/lifecycle.ts";
import type { VirtualMachine, VirtualMachineInstance } from "./generated/types.ts";

describe("KubeVirt watch-cache trimming", function () {
  const vm = (): VirtualMachine & { status?: unknown } =>
    ({
      apiVersion: "kubevirt.io/v1",
      kind: "VirtualMachine",
      metadata: { name: "llm", namespace: "ml", annotations: { "trustgate.io/launch-hash": "h1" } },
      spec: {
        runStrategy: "Always",
        template: {
          spec: { domain: { devices: { gpus: [{ name: "gpu0", deviceName: "nvidia.com/GH100" }] } } },
        },
      },
      status: { printableStatus: "Running", ready: true },
    }) as unknown as VirtualMachine & { status?: unknown };
  const vmi = (): VirtualMachineInstance =>
    ({
      apiVersion: "kubevirt.io/v1",
      kind: "VirtualMachineInstance",
      metadata: { name: "llm", namespace: "ml" },
      spec: { domain: { devices: {} } },
      status: {
        phase: "Running",
        nodeName: "gpu-1",
        conditions: [{ type: "Ready", status: "True" }],
        interfaces: [{ ipAddress: "10.0.0.7" }],
        guestOSInfo: { name: "Ubuntu" },
      },
    }) as unknown as VirtualMachineInstance;

  it("keeps a VM's metadata, runStrategy and GPU resource names only", function () {
    const trimmed = vm();
    trimVirtualMachine(trimmed as never);
    expect(trimmed).to.deep.equal({
      apiVersion: "kubevirt.io/v1",
      kind: "VirtualMachine",
      metadata: { name: "llm", namespace: "ml", annotations: { "trustgate.io/launch-hash": "h1" } },
      spec: {
        runStrategy: "Always",
        template: { spec: { domain: { devices: { gpus: [{ deviceName: "nvidia.com/GH100" }] } } } },
      },
    });
  });

  it("keeps nothing of the template of a VM without GPUs", function () {
    const trimmed = vm();
    trimmed.spec.template = { spec: { domain: { devices: {} } } };
    trimVirtualMachine(trimmed as never);
    expect(trimmed.spec).to.deep.equal({ runStrategy: "Always" });
  });

  it("keeps a VMI's metadata, phase, node and conditions only", function () {
    const trimmed = vmi();
    trimVirtualMachineInstance(trimmed as never);
    expect(trimmed.spec).to.equal(undefined);
    expect(trimmed.status).to.deep.equal({
      phase: "Running",
      nodeName: "gpu-1",
      conditions: [{ type: "Ready", status: "True" }],
    });
  });

  it("changes no lifecycle decision: vmState is the same on trimmed and full objects", function () {
    const cases: [string, string][] = [
      ["h1", "gpu-1"],
      ["h1", "gpu-2"],
      ["h2", "gpu-1"],
    ];
    for (const [hash, node] of cases) {
      const [fullVm, fullVmi, smallVm, smallVmi] = [vm(), vmi(), vm(), vmi()];
      trimVirtualMachine(smallVm as never);
      trimVirtualMachineInstance(smallVmi as never);
      const launchedAs = (v: VirtualMachine) => launchedAsWanted(v, { hash, legacyHash: () => "legacy" });
      expect(vmState(smallVm, smallVmi, launchedAs, node), `${hash} on ${node}`).to.deep.equal(
        vmState(fullVm, fullVmi, launchedAs, node),
      );
    }
  });
});
