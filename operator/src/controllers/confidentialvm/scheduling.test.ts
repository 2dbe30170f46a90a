import { expect } from "chai";
import type { ConfidentialHost } from "../../api/v1alpha1/generated/types.ts";
import { aConfidentialHost, anH100 } from "../../../test/support/builders/confidential-host.ts";
import { aConfidentialVM } from "../../../test/support/builders/confidential-vm.ts";
import { describeRefusals, gpuKey, scheduleConfidentialVM, type SchedulingInput } from "./scheduling.ts";
import { compilePolicySpec } from "../../attestation/policy/compiled-policy.ts";

const validated = [
  {
    type: "Validated",
    status: "True" as const,
    reason: "HostValid",
    message: "",
    lastTransitionTime: "2026-11-25T10:00:00Z",
  },
];

function host(
  name: string,
  gpuCount: number,
  overrides: Parameters<typeof aConfidentialHost>[0] = {},
): ConfidentialHost {
  const gpus = Array.from({ length: gpuCount }, (_, i) =>
    anH100(`0000:${(0x18 + i * 0x10).toString(16)}:00.0`),
  );
  return aConfidentialHost({ gpus, conditions: validated, ...overrides }, name);
}

function input(overrides: Partial<SchedulingInput> = {}): SchedulingInput {
  const hosts = overrides.hosts ?? [host("node-a", 8), host("node-b", 4)];
  return {
    cvm: aConfidentialVM({ gpus: { count: 2, model: "H100-SXM5-80GB" } }),
    cvmKey: "team-a/llm-inference",
    hostRules: compilePolicySpec({}).host,
    hosts,
    nodeLabels: new Map(
      hosts.map((h) => [h.metadata.name ?? "", { "topology.kubernetes.io/zone": "colo-a" }]),
    ),
    assignments: new Map(),
    ...overrides,
  };
}

describe("scheduleConfidentialVM", () => {
  it("packs onto the host that leaves the fewest GPUs unused; places models, not PCI addresses", () => {
    const result = scheduleConfidentialVM(input());
    expect(result).to.deep.equal({
      scheduled: true,
      placement: { nodeName: "node-b", gpus: [{ model: "H100-SXM5-80GB" }, { model: "H100-SXM5-80GB" }] },
    });
  });

  it("counts GPUs placed elsewhere without a known address as taken, per model", () => {
    const hosts = [
      host("node-b", 4, {
        gpus: [
          anH100("0000:18:00.0"),
          anH100("0000:28:00.0", { model: "H200-SXM-141GB" }),
          anH100("0000:38:00.0"),
          anH100("0000:48:00.0", { model: "H200-SXM-141GB" }),
        ],
      }),
    ];
    const cvm = aConfidentialVM({ gpus: { count: 2 } });
    const pending = new Map([["node-b", new Map([["H100-SXM5-80GB", 2]])]]);
    const result = scheduleConfidentialVM(input({ hosts, cvm, pending }));
    expect(result.scheduled && result.placement.gpus).to.deep.equal([
      { model: "H200-SXM-141GB" },
      { model: "H200-SXM-141GB" },
    ]);
    const full = scheduleConfidentialVM(
      input({
        hosts,
        cvm,
        pending: new Map([
          [
            "node-b",
            new Map([
              ["H100-SXM5-80GB", 2],
              ["H200-SXM-141GB", 1],
            ]),
          ],
        ]),
      }),
    );
    expect(full.scheduled).to.equal(false);
  });

  it("never hands out a GPU the host reports allocated to a pod (a VM's or anyone's)", () => {
    const podResources = {
      state: "Observed" as const,
      pods: [
        {
          namespace: "other",
          name: "notebook-0",
          devices: ["0000:18:00.0", "0000:28:00.0", "0000:38:00.0"].map((a) => ({
            resourceName: "nvidia.com/GH100_H100_SXM5_80GB",
            deviceId: a,
            pciAddress: a,
          })),
        },
      ],
    };
    const hosts = [host("node-a", 8), host("node-b", 4, { podResources })];
    const result = scheduleConfidentialVM(input({ hosts }));
    expect(result.scheduled && result.placement.nodeName).to.equal("node-a");
  });

  it("never hands out a GPU another ConfidentialVM holds", () => {
    const assignments = new Map([
      [gpuKey("node-b", "0000:18:00.0"), "team-b/other"],
      [gpuKey("node-b", "0000:28:00.0"), "team-b/other"],
      [gpuKey("node-b", "0000:38:00.0"), "team-b/other"],
    ]);
    const result = scheduleConfidentialVM(input({ assignments }));
    expect(result.scheduled && result.placement.nodeName).to.equal("node-a");
  });

  it("keeps the GPUs it already holds when rescheduled (its own assignments are free to it)", () => {
    const assignments = new Map([[gpuKey("node-b", "0000:18:00.0"), "team-a/llm-inference"]]);
    const result = scheduleConfidentialVM(input({ assignments }));
    expect(result.scheduled && result.placement.gpus[0]?.model).to.equal("H100-SXM5-80GB");
  });

  it("breaks ties by host name", () => {
    const hosts = [host("node-z", 4), host("node-c", 4)];
    const result = scheduleConfidentialVM(input({ hosts }));
    expect(result.scheduled && result.placement.nodeName).to.equal("node-c");
  });

  const refusals: { name: string; input: SchedulingInput; reason: string }[] = [
    {
      name: "a host of the other TEE",
      input: input({ hosts: [host("snp-1", 8, { tee: { type: "snp", enabled: true } })] }),
      reason: "snp-1: TEE snp, want tdx",
    },
    {
      name: "a host that is not Validated",
      input: input({
        hosts: [
          host("bad-1", 8, {
            conditions: [{ ...validated[0]!, status: "False", message: "IOMMU disabled" }],
          }),
        ],
      }),
      reason: "bad-1: host not Validated: IOMMU disabled",
    },
    {
      name: "a host without enough CC-ready GPUs",
      input: input({ hosts: [host("small-1", 1)] }),
      reason: "small-1: 1 free CC-ready H100-SXM5-80GB GPUs, want 2",
    },
    {
      name: "GPUs with CC mode off",
      input: input({
        hosts: [
          host("off-1", 0, { gpus: [anH100("0000:18:00.0", { ccMode: "off" }), anH100("0000:28:00.0")] }),
        ],
      }),
      reason:
        "off-1: GPU 0000:18:00.0 CC mode off, policy requires on, 1 free CC-ready H100-SXM5-80GB GPUs, want 2",
    },
    {
      name: "a node selector the Node does not match",
      input: input({
        cvm: aConfidentialVM({
          gpus: { count: 1 },
          nodeSelector: { "topology.kubernetes.io/zone": "colo-b" },
        }),
        hosts: [host("node-a", 8)],
      }),
      reason: "node-a: Node label topology.kubernetes.io/zone=colo-a, want colo-b",
    },
    {
      name: "a host outside the policy",
      input: input({
        hostRules: compilePolicySpec({ host: { allowedBiosVersions: ["9.9"] } }).host,
        hosts: [host("node-a", 8)],
      }),
      reason: "node-a: BIOS 2.1 not in [9.9]",
    },
    { name: "no hosts at all", input: input({ hosts: [] }), reason: "no ConfidentialHosts exist" },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name}, naming why`, () => {
      const result = scheduleConfidentialVM(r.input);
      expect(result.scheduled).to.equal(false);
      if (!result.scheduled) expect(describeRefusals(result.refusals)).to.include(r.reason);
    });
  }

  it("places a CPU-only VM on any eligible host of its TEE, GPUs or not", () => {
    const result = scheduleConfidentialVM(
      input({ cvm: aConfidentialVM({ gpus: { count: 0 } }), hosts: [host("cpu-1", 0), host("gpu-1", 8)] }),
    );
    expect(result).to.deep.equal({ scheduled: true, placement: { nodeName: "cpu-1", gpus: [] } });
  });

  it("skips a host whose Node KubeVirt could not run the VM on, naming why", () => {
    const refusal = "KubeVirt: Node lacks label kubevirt.io/tdx=true";
    const result = scheduleConfidentialVM(
      input({ kubevirtRefusals: (node) => (node === "node-b" ? [refusal] : []) }),
    );
    expect(result.scheduled && result.placement.nodeName).to.equal("node-a");
    const none = scheduleConfidentialVM(input({ kubevirtRefusals: () => [refusal] }));
    expect(none.scheduled).to.equal(false);
    if (!none.scheduled) expect(describeRefusals(none.refusals)).to.include(`node-b: ${refusal}`);
  });
});
