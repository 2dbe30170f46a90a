import { expect } from "chai";
import { decideVerdict, type VerdictInput } from "./verdict.ts";

const good: VerdictInput = {
  authentic: true,
  errorCount: 0,
  tcbStatus: "UpToDate",
  acceptedTcbStatuses: ["UpToDate"],
  policyViolationCount: 0,
  gpus: [{ authentic: true, errorCount: 0, revocation: "good" }],
  revocationRequired: true,
};

describe("decideVerdict", () => {
  const cases: [string, Partial<VerdictInput>, string][] = [
    ["everything authentic, UpToDate, policy satisfied", {}, "affirming"],
    [
      "a TCB status the policy tolerates",
      { tcbStatus: "SWHardeningNeeded", acceptedTcbStatuses: ["UpToDate", "SWHardeningNeeded"] },
      "warning",
    ],
    ["a TCB status the policy does not accept", { tcbStatus: "OutOfDate" }, "contraindicated"],
    ["collateral missing (Unknown)", { tcbStatus: "Unknown" }, "contraindicated"],
    [
      "revocation unchecked where the policy tolerates it",
      { revocationRequired: false, gpus: [{ authentic: true, errorCount: 0, revocation: "unchecked" }] },
      "warning",
    ],
    [
      "revocation unchecked where the policy requires it",
      { gpus: [{ authentic: true, errorCount: 0, revocation: "unchecked" }] },
      "contraindicated",
    ],
    [
      "a revoked GPU",
      { gpus: [{ authentic: true, errorCount: 0, revocation: "revoked" }] },
      "contraindicated",
    ],
    [
      "a GPU that is not authentic",
      { gpus: [{ authentic: false, errorCount: 1, revocation: "good" }] },
      "contraindicated",
    ],
    [
      "GPU measurements that differ from the RIMs",
      { gpus: [{ authentic: true, errorCount: 0, revocation: "good", measurements: "mismatch" }] },
      "contraindicated",
    ],
    [
      "GPU measurements unchecked where the policy requires a RIM match",
      {
        rimRequired: true,
        gpus: [{ authentic: true, errorCount: 0, revocation: "good", measurements: "unchecked" }],
      },
      "contraindicated",
    ],
    [
      "GPU measurements unchecked where the policy tolerates it",
      {
        rimRequired: false,
        gpus: [{ authentic: true, errorCount: 0, revocation: "good", measurements: "unchecked" }],
      },
      "warning",
    ],
    [
      "GPU measurements that match with revocation good",
      {
        rimRequired: true,
        gpus: [{ authentic: true, errorCount: 0, revocation: "good", measurements: "match" }],
      },
      "affirming",
    ],
    ["TEE evidence that is not authentic", { authentic: false }, "contraindicated"],
    ["a binding error", { errorCount: 1 }, "contraindicated"],
    ["a policy violation", { policyViolationCount: 2 }, "contraindicated"],
  ];
  for (const [name, overrides, verdict] of cases) {
    it(`${verdict} for ${name}`, () => {
      expect(decideVerdict({ ...good, ...overrides })).to.equal(verdict);
    });
  }
});
