import { expect } from "chai";
import { compilePolicySpec } from "../policy/compiled-policy.ts";
import type { AttestationPolicySpec } from "../../api/v1alpha1/generated/types.ts";
import type { TeeVerification } from "../types.ts";
import { appraiseTdx } from "./appraise-tdx.ts";

const MRTD = "91eb2b44".padEnd(96, "0");
const RTMR = (n: number): string => `${n}`.repeat(96);

function verification(
  overrides: Partial<TeeVerification> = {},
  claims: TeeVerification["claims"] = {},
): TeeVerification {
  return {
    type: "tdx",
    authentic: true,
    tcbStatus: "UpToDate",
    advisoryIds: [],
    errors: [],
    ...overrides,
    claims: {
      mrTd: MRTD,
      rtmr0: RTMR(0),
      rtmr1: RTMR(1),
      rtmr2: RTMR(2),
      rtmr3: RTMR(3),
      mrSeam: "5b".repeat(48),
      mrConfigId: "00".repeat(48),
      xfam: "e702060000000000",
      debug: false,
      tdAttributes: "0000001000000000", // SEPT_VE_DISABLE
      tcbEvaluationDataNumber: 17,
      ...claims,
    },
  };
}

interface Case {
  name: string;
  policy: AttestationPolicySpec;
  verification?: TeeVerification;
  violations: { field: string; actual: string; expected?: string[] }[];
}

const cases: Case[] = [
  { name: "an empty policy accepts an UpToDate, non-debug TD", policy: {}, violations: [] },
  {
    name: "an empty policy refuses a debug TD and a non-UpToDate TCB (the defaults)",
    policy: {},
    verification: verification({ tcbStatus: "OutOfDate" }, { debug: true }),
    violations: [
      { field: "spec.tdx.allowDebug", actual: "true", expected: ["false"] },
      { field: "spec.tdx.acceptedTcbStatuses", actual: "OutOfDate", expected: ["UpToDate"] },
    ],
  },
  {
    name: "allowDebug and a listed TCB status tolerate both",
    policy: { tdx: { allowDebug: true, acceptedTcbStatuses: ["UpToDate", "OutOfDate"] } },
    verification: verification({ tcbStatus: "OutOfDate" }, { debug: true }),
    violations: [],
  },
  {
    name: "measurements compare case-insensitively against their allow-lists (the CRD admits only lowercase)",
    policy: { tdx: { mrTd: [MRTD], rtmr0: [RTMR(0)], xfam: ["e702060000000000"] } },
    verification: verification({}, { mrTd: MRTD.toUpperCase(), xfam: "E702060000000000" }),
    violations: [],
  },
  {
    name: "the default attributes admit SEPT_VE_DISABLE, LASS, PKS and KL, and PERFMON (bit 63, not checked)",
    policy: {},
    verification: verification({}, { tdAttributes: "000000d800000080" }),
    violations: [],
  },
  {
    name: "a MIGRATABLE TD is refused unless the policy lists MIGRATABLE",
    policy: {},
    verification: verification({}, { tdAttributes: "0000003000000000" }),
    violations: [{ field: "spec.tdx.allowedAttributes", actual: "MIGRATABLE" }],
  },
  {
    name: "MIGRATABLE is accepted when listed",
    policy: { tdx: { allowedAttributes: ["SEPT_VE_DISABLE", "MIGRATABLE"] } },
    verification: verification({}, { tdAttributes: "0000003000000000" }),
    violations: [],
  },
  {
    name: "off-TD profiling and reserved bits are refused, each named",
    policy: {},
    verification: verification({}, { tdAttributes: "2002001000000000" }),
    violations: [
      { field: "spec.tdx.allowedAttributes", actual: "PERF_PROF" },
      { field: "spec.tdx.allowedAttributes", actual: "reserved bit 9" },
    ],
  },
  {
    name: "an attribute the policy no longer allows (an empty list refuses every TUD/SEC bit but DEBUG's)",
    policy: { tdx: { allowedAttributes: [] } },
    verification: verification({}, { tdAttributes: "0000001000000000" }),
    violations: [{ field: "spec.tdx.allowedAttributes", actual: "SEPT_VE_DISABLE" }],
  },
  {
    name: "MROWNER, MROWNERCONFIG and MRSERVICETD allow-lists (a v4 quote has no MRSERVICETD: refused)",
    policy: {
      tdx: { mrOwner: ["00".repeat(48)], mrOwnerConfig: ["11".repeat(48)], mrServiceTd: ["22".repeat(48)] },
    },
    verification: verification({}, { mrOwner: "00".repeat(48), mrOwnerConfig: "33".repeat(48) }),
    violations: [
      { field: "spec.tdx.mrOwnerConfig", actual: "33".repeat(48) },
      { field: "spec.tdx.mrServiceTd", actual: "<missing>" },
    ],
  },
  {
    name: "every measurement mismatch is reported with field, expected and actual",
    policy: {
      tdx: {
        mrTd: ["aa".repeat(48)],
        rtmr1: ["bb".repeat(48), "cc".repeat(48)],
        rtmr3: [RTMR(3)],
        mrSeam: ["dd".repeat(48)],
        mrConfigId: ["ee".repeat(48)],
        xfam: ["e71a060000000000"],
      },
    },
    violations: [
      { field: "spec.tdx.mrTd", actual: MRTD, expected: ["aa".repeat(48)] },
      { field: "spec.tdx.rtmr1", actual: RTMR(1), expected: ["bb".repeat(48), "cc".repeat(48)] },
      { field: "spec.tdx.mrSeam", actual: "5b".repeat(48) },
      { field: "spec.tdx.mrConfigId", actual: "00".repeat(48) },
      { field: "spec.tdx.xfam", actual: "e702060000000000" },
    ],
  },
  {
    name: "an empty allow-list accepts nothing",
    policy: { tdx: { rtmr2: [] } },
    violations: [{ field: "spec.tdx.rtmr2", actual: RTMR(2), expected: [] }],
  },
  {
    name: "a claim missing from a failed verification is a violation, not a pass",
    policy: { tdx: { mrTd: [MRTD] } },
    verification: { ...verification({ authentic: false, tcbStatus: "Unknown" }), claims: {} },
    violations: [
      { field: "spec.tdx.mrTd", actual: "<missing>" },
      { field: "spec.tdx.allowedAttributes", actual: "<missing>" },
      { field: "spec.tdx.allowDebug", actual: "<missing>" },
      { field: "spec.tdx.acceptedTcbStatuses", actual: "Unknown" },
    ],
  },
  {
    name: "minTcbEvaluationDataNumber compares the claim",
    policy: { tdx: { minTcbEvaluationDataNumber: 18 } },
    violations: [{ field: "spec.tdx.minTcbEvaluationDataNumber", actual: "17", expected: [">= 18"] }],
  },
  {
    name: "minTcbEvaluationDataNumber at the claim passes",
    policy: { tdx: { minTcbEvaluationDataNumber: 17 } },
    violations: [],
  },
  {
    name: "each advisory outside allowedAdvisoryIds is reported",
    policy: { tdx: { acceptedTcbStatuses: ["OutOfDate"], allowedAdvisoryIds: ["INTEL-SA-00960"] } },
    verification: verification({
      tcbStatus: "OutOfDate",
      advisoryIds: ["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"],
    }),
    violations: [
      { field: "spec.tdx.allowedAdvisoryIds", actual: "INTEL-SA-00982" },
      { field: "spec.tdx.allowedAdvisoryIds", actual: "INTEL-SA-00986" },
    ],
  },
  {
    name: "unset allowedAdvisoryIds does not check advisories",
    policy: { tdx: { acceptedTcbStatuses: ["OutOfDate"] } },
    verification: verification({ tcbStatus: "OutOfDate", advisoryIds: ["INTEL-SA-00960"] }),
    violations: [],
  },
];

describe("appraiseTdx", () => {
  for (const test of cases) {
    it(test.name, () => {
      const violations = appraiseTdx(test.verification ?? verification(), compilePolicySpec(test.policy));
      expect(violations.map(({ field, actual }) => ({ field, actual }))).to.deep.equal(
        test.violations.map(({ field, actual }) => ({ field, actual })),
      );
      test.violations.forEach((expected, i) => {
        if (expected.expected !== undefined) expect(violations[i]?.expected).to.deep.equal(expected.expected);
        expect(violations[i]?.message).to.be.a("string").and.not.equal("");
      });
    });
  }
});
