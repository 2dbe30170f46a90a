import { expect } from "chai";
import type { AttestationPolicySpecGpu } from "../../api/v1alpha1/generated/types.ts";
import { compilePolicySpec } from "../policy/compiled-policy.ts";
import type { GpuResult } from "../types.ts";
import { appraiseGpus, blockingGpuErrors, type GpuAssignment } from "./appraise-gpus.ts";

const policyOf = (gpu: AttestationPolicySpecGpu) => compilePolicySpec({ gpu }).gpu;

const gpu = (overrides: Partial<GpuResult> = {}): GpuResult => ({
  index: 0,
  authentic: true,
  nonce: "",
  driverVersion: "550.90.07",
  vbiosVersion: "96.00.9F.00.01",
  measurements: "match" as const,
  revocation: "good" as const,
  errors: [],
  ...overrides,
});

describe("appraisal of spec.gpu", () => {
  const cases: [string, [GpuResult[], AttestationPolicySpecGpu, GpuAssignment?], string[]][] = [
    ["no lists: any version", [[gpu()], {}], []],
    [
      "an allowed driver and VBIOS (case-insensitive)",
      [[gpu()], { allowedDriverVersions: ["550.90.07"], allowedVbiosVersions: ["96.00.9f.00.01"] }],
      [],
    ],
    [
      "a driver not listed",
      [[gpu()], { allowedDriverVersions: ["550.54.15"] }],
      ["spec.gpu.allowedDriverVersions"],
    ],
    [
      "a VBIOS not listed",
      [[gpu()], { allowedVbiosVersions: ["96.00.74.00.20"] }],
      ["spec.gpu.allowedVbiosVersions"],
    ],
    [
      "a GPU that is not authentic is not appraised",
      [[gpu({ authentic: false })], { allowedDriverVersions: ["1.0"] }],
      [],
    ],
    [
      "NVSwitches have no driver and a switch BIOS: GPU lists do not apply",
      [
        [gpu({ deviceType: "switch", driverVersion: "" })],
        { allowedDriverVersions: ["550.90.07"], allowedVbiosVersions: ["96.00.9F.00.01"] },
      ],
      [],
    ],
    ["every assigned GPU present", [[gpu(), gpu({ index: 1 })], {}, { gpus: 2 }], []],
    ["an assigned GPU missing", [[gpu()], {}, { gpus: 2 }], ["status.gpus"]],
    ["an extra GPU", [[gpu(), gpu({ index: 1 })], {}, { gpus: 1 }], ["status.gpus"]],
    [
      "NVSwitches are not counted as assigned GPUs",
      [[gpu(), gpu({ index: 1, deviceType: "switch" })], {}, { gpus: 1 }],
      [],
    ],
    [
      "a PPCIe board: its signed topology is appraised (here: GPU 0 reaches no switch, the switch signs no PDI)",
      [[gpu(), gpu({ index: 1, deviceType: "switch" })], {}, { gpus: 1, nvswitches: 1, ppcie: true }],
      ["status.evidence.gpus", "status.evidence.gpus"],
    ],
    [
      "a GPU another CVM has attested",
      [[gpu({ deviceIdentity: "d1" })], {}, { gpus: 1, identitiesElsewhere: new Map([["d1", "ns/other"]]) }],
      ["status.gpus"],
    ],
  ];
  for (const [name, [gpus, spec, assignment], fields] of cases) {
    it(name, () => {
      expect(appraiseGpus(gpus, policyOf(spec), assignment).map((v) => v.field)).to.deep.equal(fields);
    });
  }

  const errors = [
    { code: "RimUnavailable" as const, message: "" },
    { code: "CollateralUnavailable" as const, message: "" },
    { code: "SignatureInvalid" as const, message: "" },
  ];
  const tolerance: [string, AttestationPolicySpecGpu, string[]][] = [
    [
      "default policy: nothing is tolerated",
      {},
      ["RimUnavailable", "CollateralUnavailable", "SignatureInvalid"],
    ],
    [
      "RIM match not required: a missing RIM is tolerated",
      { requireRimMatch: false },
      ["CollateralUnavailable", "SignatureInvalid"],
    ],
    [
      "revocation not required: an OCSP outage is tolerated",
      { requireRevocationCheck: false },
      ["RimUnavailable", "SignatureInvalid"],
    ],
  ];
  for (const [name, policy, codes] of tolerance) {
    it(name, () => {
      expect(blockingGpuErrors(errors, policyOf(policy)).map((e) => e.code)).to.deep.equal(codes);
    });
  }
});
