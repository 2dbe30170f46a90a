import { expect } from "chai";
import type { AttestationPolicySpec } from "../../api/v1alpha1/generated/types.ts";
import { policyConditions, unpinnedMeasurements } from "./decide.ts";

const hex96 = "a".repeat(96);
const tdxPinned = { mrTd: [hex96], rtmr0: [hex96], rtmr1: [hex96], rtmr2: [hex96], mrSeam: [hex96] };
const snpPinned = { measurement: [hex96] };

describe("AttestationPolicy status decisions", () => {
  const pinning: [string, AttestationPolicySpec, string[]][] = [
    [
      "a policy pinning every TDX and SNP launch measurement leaves none unpinned",
      { tdx: tdxPinned, snp: snpPinned },
      [],
    ],
    [
      "an empty policy leaves every launch measurement unpinned",
      {},
      ["tdx.mrTd", "tdx.rtmr0", "tdx.rtmr1", "tdx.rtmr2", "tdx.mrSeam", "snp.measurement"],
    ],
    ["a TDX-only policy names the SNP measurement as unpinned", { tdx: tdxPinned }, ["snp.measurement"]],
    [
      "an empty list of accepted values pins nothing",
      { tdx: { ...tdxPinned, mrSeam: [] }, snp: snpPinned },
      ["tdx.mrSeam"],
    ],
    [
      "RTMR3, extended at run time, need not be pinned",
      { tdx: { ...tdxPinned, rtmr3: [] }, snp: snpPinned },
      [],
    ],
    [
      "other TDX fields do not count as measurements",
      { tdx: { mrConfigId: [hex96], xfam: ["0".repeat(16)] }, snp: snpPinned },
      ["tdx.mrTd", "tdx.rtmr0", "tdx.rtmr1", "tdx.rtmr2", "tdx.mrSeam"],
    ],
  ];
  for (const [sentence, spec, unpinned] of pinning) {
    it(sentence, () => {
      expect(unpinnedMeasurements(spec)).to.deep.equal(unpinned);
    });
  }

  it("says MeasurementsPinned True with reason Pinned when all are pinned", () => {
    const pinned = policyConditions({ tdx: tdxPinned, snp: snpPinned }).find(
      (c) => c.type === "MeasurementsPinned",
    );
    expect([pinned?.status, pinned?.reason]).to.deep.equal(["True", "Pinned"]);
  });

  it("says MeasurementsPinned False and names what is not pinned", () => {
    const pinned = policyConditions({ tdx: tdxPinned }).find((c) => c.type === "MeasurementsPinned");
    expect([pinned?.status, pinned?.reason, pinned?.message]).to.deep.equal([
      "False",
      "NotPinned",
      "not pinned, any value is accepted: snp.measurement",
    ]);
  });

  it("is Ready with reason Valid for a policy with usable freshness", () => {
    const ready = policyConditions({ freshness: { challengeTtl: "90s" } }).find((c) => c.type === "Ready");
    expect([ready?.status, ready?.reason]).to.deep.equal(["True", "Valid"]);
  });

  it("is not Ready when a freshness duration cannot be read (the API server's validation was bypassed)", () => {
    const ready = policyConditions({ freshness: { resultTtl: "two hours" } }).find((c) => c.type === "Ready");
    expect([ready?.status, ready?.reason]).to.deep.equal(["False", "InvalidFreshness"]);
    expect(ready?.message).to.include("two hours");
  });
});
