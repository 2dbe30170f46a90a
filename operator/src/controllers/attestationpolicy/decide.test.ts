import { expect } from "chai";
import type { AttestationPolicySpec } from "../../api/v1alpha1/generated/types.ts";
import { policyConditions } from "./decide.ts";

const hex96 = "a".repeat(96);

function conditionsOf(spec: AttestationPolicySpec | Record<string, unknown>) {
  const policy = {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "AttestationPolicy",
    metadata: { name: "p" },
    spec,
  };
  const conditions = policyConditions(policy as Parameters<typeof policyConditions>[0]);
  const of = (type: string) => conditions.find((c) => c.type === type);
  return { ready: of("Ready"), pinned: of("MeasurementsPinned") };
}

describe("AttestationPolicy status decisions", () => {
  const cases: [
    string,
    AttestationPolicySpec | Record<string, unknown>,
    [string, string],
    [string, string],
    string?,
  ][] = [
    [
      "a policy pinning MRTD and the SNP MEASUREMENT",
      { tdx: { mrTd: [hex96] }, snp: { measurement: [hex96] } },
      ["True", "Valid"],
      ["True", "Pinned"],
    ],
    [
      "an RTMR alone pins TDX",
      { tdx: { rtmr1: [hex96] }, snp: { measurement: [hex96] } },
      ["True", "Valid"],
      ["True", "Pinned"],
    ],
    [
      "a TDX-only policy: SNP guests are not attested",
      { tdx: { mrTd: [hex96] } },
      ["True", "Valid"],
      ["False", "NotPinned"],
      "snp (no snp.measurement)",
    ],
    [
      "mrConfigId and xfam pin no launch measurement",
      { tdx: { mrConfigId: [hex96] }, snp: { measurement: [hex96] } },
      ["True", "Valid"],
      ["False", "NotPinned"],
      "tdx (no",
    ],
    [
      "the empty policy opted in to unpinned measurements",
      { allowUnpinnedMeasurements: true },
      ["True", "Valid"],
      ["False", "UnpinnedAllowed"],
      "any genuine guest",
    ],
    [
      "a duration the CRD refuses (the API server's validation bypassed)",
      { freshness: { resultTtl: "two hours" } },
      ["False", "Invalid"],
      ["Unknown", "Invalid"],
      "resultTtl",
    ],
    [
      "an unknown field (a typo'd pin)",
      { tdx: { mrtd: [hex96] } },
      ["False", "Invalid"],
      ["Unknown", "Invalid"],
      'unknown field "spec.tdx.mrtd"',
    ],
  ];
  for (const [sentence, spec, ready, pinned, named] of cases) {
    it(sentence, () => {
      const got = conditionsOf(spec);
      expect([got.ready?.status, got.ready?.reason]).to.deep.equal(ready);
      expect([got.pinned?.status, got.pinned?.reason]).to.deep.equal(pinned);
      if (named !== undefined)
        expect(`${got.ready?.message ?? ""} ${got.pinned?.message ?? ""}`).to.include(named);
    });
  }
});
