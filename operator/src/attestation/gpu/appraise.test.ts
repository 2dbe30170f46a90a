import { expect } from "chai";
import type { GpuResult } from "../verify-bundle.ts";
import { appraiseGpus, blockingGpuErrors } from "./appraise.ts";
import type { GpuPolicy } from "./appraisal-hooks.ts";

const gpu = (overrides: Partial<GpuResult & { deviceType: "gpu" | "switch" }> = {}) => ({
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
  const cases: [string, Parameters<typeof appraiseGpus>, string[]][] = [
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
    ["every assigned GPU present", [[gpu(), gpu({ index: 1 })], {}, { assignedGpus: 2 }], []],
    ["an assigned GPU missing", [[gpu()], {}, { assignedGpus: 2 }], ["status.gpus"]],
    ["an extra GPU", [[gpu(), gpu({ index: 1 })], {}, { assignedGpus: 1 }], ["status.gpus"]],
  ];
  for (const [name, args, fields] of cases) {
    it(name, () => {
      expect(appraiseGpus(...args).map((v) => v.field)).to.deep.equal(fields);
    });
  }

  const errors = [
    { code: "RimUnavailable" as const, message: "" },
    { code: "CollateralUnavailable" as const, message: "" },
    { code: "SignatureInvalid" as const, message: "" },
  ];
  const tolerance: [string, GpuPolicy, string[]][] = [
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
      expect(blockingGpuErrors(errors, policy).map((e) => e.code)).to.deep.equal(codes);
    });
  }
});
