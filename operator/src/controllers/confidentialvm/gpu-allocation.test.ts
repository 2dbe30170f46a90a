import { expect } from "chai";
import type { ConfidentialHostStatusPodResources } from "../../api/v1alpha1/generated/types.ts";
import { aConfidentialHost, anH100 } from "../../../test/support/builders/confidential-host.ts";
import {
  type AllocationInput,
  allocationStatus,
  type LauncherPod,
  observeGpuAllocation,
} from "./gpu-allocation.ts";

const H100 = "H100-SXM5-80GB";
const R = "nvidia.com/GH100_H100_SXM5_80GB";
const NODE = "gpu-node-1";
const VMI = "3cbb32a1-f11c-4065-99e6-62ce670bff12";
const POD: LauncherPod = { namespace: "ml", name: "virt-launcher-llm-8dzl7", nodeName: NODE, vmiUid: VMI };
const HOST_GPUS = ["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0"].map((a) => anH100(a));

function devices(...addresses: string[]) {
  return addresses.map((a) => ({ resourceName: R, deviceId: a, pciAddress: a }));
}

function input(
  podResources: ConfidentialHostStatusPodResources | undefined,
  overrides: Partial<AllocationInput> = {},
): AllocationInput {
  return {
    cvmKey: "ml/llm",
    namespace: "ml",
    placement: { nodeName: NODE, gpus: [{ model: H100 }, { model: H100 }] },
    runningVmiUid: VMI,
    host: aConfidentialHost(
      { gpus: HOST_GPUS, ...(podResources === undefined ? {} : { podResources }) },
      NODE,
    ),
    launcherPods: [POD],
    gpuOwners: new Map(),
    ...overrides,
  };
}

const observed = (
  ...pods: { name: string; devices: ReturnType<typeof devices> }[]
): ConfidentialHostStatusPodResources => ({
  state: "Observed",
  pods: pods.map((p) => ({ namespace: "ml", ...p })),
});

describe("observeGpuAllocation: the GPUs a VM really got", () => {
  it("takes the GPUs the host reports for the VMI's launcher pod, whatever the placement planned", () => {
    const allocation = observeGpuAllocation(
      input(observed({ name: POD.name, devices: devices("0000:5d:00.0", "0000:2a:00.0") })),
    );
    expect(allocation).to.deep.include({
      state: "Observed",
      gpus: [
        { pciAddress: "0000:2a:00.0", model: H100 },
        { pciAddress: "0000:5d:00.0", model: H100 },
      ],
    });
  });

  it("is Requested (one model-only slot per GPU) while no VMI runs, and undefined without GPUs", () => {
    const requested = observeGpuAllocation(input(undefined, { runningVmiUid: undefined }));
    expect(requested?.state).to.equal("Requested");
    expect(allocationStatus(input(undefined).placement, requested).gpus).to.deep.equal([
      { model: H100 },
      { model: H100 },
    ]);
    expect(observeGpuAllocation(input(undefined, { placement: { nodeName: NODE, gpus: [] } }))).to.equal(
      undefined,
    );
  });

  const notYet: [string, AllocationInput, string, RegExp][] = [
    ["the host does not report PodResources", input(undefined), "Unknown", /does not report PodResources/],
    [
      "the host cannot read the PodResources API",
      input({ state: "Unavailable", message: "List failed: no socket" }),
      "Unknown",
      /cannot read the kubelet's PodResources API: List failed: no socket/,
    ],
    [
      "no launcher pod of this VMI is known",
      input(observed(), { launcherPods: [] }),
      "Pending",
      /no virt-launcher pod/,
    ],
    [
      "the launcher pod is of an earlier VMI",
      input(observed({ name: POD.name, devices: devices("0000:18:00.0", "0000:2a:00.0") }), {
        launcherPods: [{ ...POD, vmiUid: "earlier" }],
      }),
      "Pending",
      /no virt-launcher pod of VMI/,
    ],
    [
      "the host does not list the pod yet",
      input(observed({ name: "virt-launcher-other-1", devices: devices("0000:18:00.0") })),
      "Pending",
      /does not list GPUs of pod ml\/virt-launcher-llm-8dzl7 yet/,
    ],
  ];
  for (const [what, given, state, message] of notYet)
    it(`is ${state} when ${what}`, () => {
      const allocation = observeGpuAllocation(given);
      expect(allocation?.state).to.equal(state);
      expect(allocation?.message).to.match(message);
    });

  describe("refuses a report that cannot be right (status keeps the requested slots)", () => {
    const refusals: [string, AllocationInput, RegExp][] = [
      [
        "attacker: a GPU the host does not list",
        input(observed({ name: POD.name, devices: devices("0000:18:00.0", "0000:c1:00.0") })),
        /reports GPU 0000:c1:00.0 allocated to pod ml\/virt-launcher-llm-8dzl7, but does not list that GPU/,
      ],
      [
        "attacker: a GPU another CVM's status holds",
        input(observed({ name: POD.name, devices: devices("0000:18:00.0", "0000:2a:00.0") }), {
          gpuOwners: new Map([[`${NODE}/0000:2a:00.0`, "ml/other"]]),
        }),
        /GPU 0000:2a:00.0 on gpu-node-1, which host gpu-node-1 reports for pod .*, belongs to ml\/other/,
      ],
      [
        "attacker: one GPU listed for two pods",
        input(
          observed(
            { name: POD.name, devices: devices("0000:18:00.0", "0000:2a:00.0") },
            { name: "notebook-0", devices: devices("0000:2a:00.0") },
          ),
        ),
        /GPU 0000:2a:00.0 allocated to both pod ml\/virt-launcher-llm-8dzl7 and pod ml\/notebook-0/,
      ],
      [
        "one GPU twice",
        input(observed({ name: POD.name, devices: devices("0000:18:00.0", "0000:18:00.0") })),
        /reports GPU 0000:18:00.0 twice/,
      ],
      [
        "more GPUs than the VM requested",
        input(observed({ name: POD.name, devices: devices("0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0") })),
        /reports 3 GPUs for pod .*; the VM requested 2 \(H100-SXM5-80GB, H100-SXM5-80GB\)/,
      ],
      [
        "a device ID the agent maps to no GPU",
        input(
          observed({
            name: POD.name,
            devices: [
              ...devices("0000:18:00.0"),
              { resourceName: R, deviceId: "37", problem: "IOMMU group 37 holds 2 GPUs" } as never,
            ],
          }),
        ),
        /device 37 \(nvidia.com\/GH100_H100_SXM5_80GB\) of pod .*maps to no GPU: IOMMU group 37 holds 2 GPUs/,
      ],
    ];
    for (const [what, given, message] of refusals)
      it(what, () => {
        const allocation = observeGpuAllocation(given);
        expect(allocation?.state).to.equal("Refused");
        expect(allocation?.message).to.match(message);
        expect(allocationStatus(given.placement, allocation).gpus).to.deep.equal([
          { model: H100 },
          { model: H100 },
        ]);
      });
  });

  it("accepts GPUs its own status already holds (a re-reconcile of an observed allocation)", () => {
    const allocation = observeGpuAllocation(
      input(observed({ name: POD.name, devices: devices("0000:18:00.0", "0000:2a:00.0") }), {
        gpuOwners: new Map([[`${NODE}/0000:2a:00.0`, "ml/llm"]]),
      }),
    );
    expect(allocation?.state).to.equal("Observed");
  });
});
