import { expect } from "chai";
import type { ConfidentialHostStatusGpu } from "../../api/v1alpha1/generated/types.ts";
import { gpuOfDeviceId, gpuResourceNames, podResourcesStatus } from "./device-mapping.ts";
import { decodeListPodResourcesResponse } from "./messages.ts";
import { ProtobufError } from "./protobuf.ts";

const gpu = (pciAddress: string, iommuGroup: string): ConfidentialHostStatusGpu => ({
  pciAddress,
  vendorId: "0x10de",
  deviceId: "0x2330",
  ccMode: "on",
  iommuGroup,
});
const GPUS = [gpu("0000:18:00.0", "21"), gpu("0000:2a:00.0", "37"), gpu("0000:3a:00.0", "37")];

describe("gpuOfDeviceId: device plugin IDs → host GPUs", () => {
  const cases: [string, string, ReturnType<typeof gpuOfDeviceId>][] = [
    ["NVIDIA plugin ≥ v1.5.0: the PCI address", "0000:18:00.0", { pciAddress: "0000:18:00.0" }],
    ["upper-case hex", "0000:2A:00.0", { pciAddress: "0000:2a:00.0" }],
    ["plugin ≤ v1.4.0 / KubeVirt's PCI plugin: the IOMMU group", "21", { pciAddress: "0000:18:00.0" }],
    [
      "a PCI device that is no GPU of this host",
      "0000:99:00.0",
      { problem: "PCI device 0000:99:00.0 is not a GPU this host reports" },
    ],
    ["an IOMMU group without a GPU", "5", { problem: "IOMMU group 5 holds no GPU this host reports" }],
    [
      "an IOMMU group with two GPUs",
      "37",
      { problem: "IOMMU group 37 holds 2 GPUs (0000:2a:00.0, 0000:3a:00.0): which one is meant is unknown" },
    ],
    ["anything else", "GPU-5f1c", { problem: "neither a PCI address nor an IOMMU group number" }],
    [
      "a short PCI address (no domain)",
      "18:00.0",
      { problem: "neither a PCI address nor an IOMMU group number" },
    ],
  ];
  for (const [what, id, want] of cases) it(what, () => expect(gpuOfDeviceId(id, GPUS)).to.deep.equal(want));
});

describe("podResourcesStatus", () => {
  it("reports only resources that hold a GPU of this host (NVSwitches, NICs and CPUs are left out)", () => {
    const names = gpuResourceNames(
      [
        { resourceName: "nvidia.com/GH100_H100_SXM5_80GB", deviceIds: ["0000:18:00.0"] },
        { resourceName: "nvidia.com/GH100_NVSWITCH", deviceIds: ["0000:05:00.0"] },
        { resourceName: "intel.com/sriov", deviceIds: ["0000:af:00.2"] },
      ],
      GPUS,
    );
    expect([...names]).to.deep.equal(["nvidia.com/GH100_H100_SXM5_80GB"]);
  });

  it("compares equal whatever order the kubelet lists pods and devices in", () => {
    const a = {
      namespace: "ml",
      name: "a",
      devices: [{ resourceName: "r", deviceIds: ["0000:2a:00.0", "0000:18:00.0"] }],
    };
    const b = { namespace: "ml", name: "b", devices: [{ resourceName: "r", deviceIds: ["21"] }] };
    const one = podResourcesStatus([a, b], undefined, GPUS).status;
    const other = podResourcesStatus(
      [b, { ...a, devices: [{ resourceName: "r", deviceIds: ["0000:18:00.0", "0000:2a:00.0"] }] }],
      undefined,
      GPUS,
    ).status;
    expect(JSON.stringify(one)).to.equal(JSON.stringify(other));
  });

  it("keeps at most 64 pods and says how many it left out", () => {
    const pods = Array.from({ length: 66 }, (_, i) => ({
      namespace: "ml",
      name: `p${String(i).padStart(2, "0")}`,
      devices: [{ resourceName: "r", deviceIds: ["0000:18:00.0"] }],
    }));
    const { status, problems } = podResourcesStatus(pods, undefined, GPUS);
    expect(status.pods).to.have.length(64);
    expect(problems).to.deep.equal(["2 pods with GPUs left out"]);
  });
});

describe("PodResources protobuf decoding (malformed input)", () => {
  const cases: [string, number[]][] = [
    ["a truncated varint", [0x0a, 0x80]],
    ["a length past the end", [0x0a, 0x05, 0x0a]],
    ["an 11-byte varint", [0x08, ...Array<number>(10).fill(0xff), 0x01]],
    ["a group wire type", [0x0b]],
    ["field number 0", [0x02, 0x00]],
    ["a string that is not UTF-8", [0x0a, 0x03, 0x0a, 0x01, 0xff]],
  ];
  for (const [what, bytes] of cases)
    it(`refuses ${what}`, () => {
      expect(() => decodeListPodResourcesResponse(Uint8Array.from(bytes))).to.throw(ProtobufError);
    });

  it("skips unknown fields of every wire type", () => {
    // pod_resources { name: "p", 9: fixed64, 10: fixed32, 11: varint } then unknown top-level field 7.
    const pod = [0x0a, 0x01, 0x70, 0x49, ...Array<number>(8).fill(0), 0x55, 0, 0, 0, 0, 0x58, 0x96, 0x01];
    const bytes = Uint8Array.from([0x0a, pod.length, ...pod, 0x38, 0x01]);
    expect(decodeListPodResourcesResponse(bytes)).to.deep.equal([{ namespace: "", name: "p", devices: [] }]);
  });
});
