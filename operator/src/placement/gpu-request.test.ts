import { expect } from "chai";
import type { ConfidentialVMSpecGpus } from "../api/v1alpha1/generated/types.ts";
import { aConfidentialVM } from "../../test/support/builders/confidential-vm.ts";
import { gpuModeOf, placementMismatch, type PlacedDevices } from "./gpu-request.ts";

const H100 = "H100-SXM5-80GB";
const gpus = (n: number, model = H100) =>
  Array.from({ length: n }, (_, i) => ({ pciAddress: `0000:${(0x18 + i).toString(16)}:00.0`, model }));
const switches = (n: number) => Array.from({ length: n }, (_, i) => ({ pciAddress: `0000:0${5 + i}:00.0` }));

describe("placementMismatch", () => {
  const cases: { name: string; spec: ConfidentialVMSpecGpus; placed: PlacedDevices; mismatch?: string }[] = [
    { name: "cc: the asked-for count", spec: { count: 2 }, placed: { gpus: gpus(2) } },
    { name: "cc: no GPUs", spec: { count: 0 }, placed: { gpus: [] } },
    {
      name: "cc: one GPU short",
      spec: { count: 2 },
      placed: { gpus: gpus(1) },
      mismatch: "placement has 1 GPUs, spec.gpus.count is 2",
    },
    {
      name: "cc: NVSwitches are never a CC-mode CVM's",
      spec: { count: 8 },
      placed: { gpus: gpus(8), nvswitches: switches(4) },
      mismatch: "placement has 4 NVSwitches, a CC-mode CVM gets none",
    },
    {
      name: "any mode: a GPU of another model",
      spec: { count: 1, model: "H200-SXM-141GB" },
      placed: { gpus: gpus(1) },
      mismatch: "placed GPU 0000:18:00.0 is H100-SXM5-80GB, spec.gpus.model is H200-SXM-141GB",
    },
    {
      name: "ppcie: the whole board, count unset",
      spec: { mode: "ppcie" },
      placed: { gpus: gpus(8), nvswitches: switches(4) },
    },
    {
      name: "ppcie: the whole board, count 8",
      spec: { mode: "ppcie", count: 8, model: H100 },
      placed: { gpus: gpus(8), nvswitches: switches(4) },
    },
    {
      name: "ppcie: a board missing a switch",
      spec: { mode: "ppcie", count: 0 },
      placed: { gpus: gpus(8), nvswitches: switches(3) },
      mismatch: "placement has 8 GPUs and 3 NVSwitches, a PPCIe board is 8 and 4",
    },
    {
      name: "ppcie: a CC-mode placement recorded before the mode changed",
      spec: { mode: "ppcie", count: 8 },
      placed: { gpus: gpus(8) },
      mismatch: "placement has 8 GPUs and 0 NVSwitches, a PPCIe board is 8 and 4 (spec.gpus.count 8)",
    },
    {
      name: "ppcie: part of a board",
      spec: { mode: "ppcie", count: 4 },
      placed: { gpus: gpus(4), nvswitches: switches(4) },
      mismatch: "placement has 4 GPUs and 4 NVSwitches, a PPCIe board is 8 and 4 (spec.gpus.count 4)",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const cvm = aConfidentialVM({ gpus: c.spec });
      expect(placementMismatch(cvm, c.placed)).to.equal(c.mismatch);
    });
  }

  it("reads an unset mode as cc", () => {
    expect(gpuModeOf(aConfidentialVM({ gpus: { count: 1 } }))).to.equal("cc");
    expect(gpuModeOf(aConfidentialVM({ gpus: { mode: "ppcie" } }))).to.equal("ppcie");
  });
});
