import { expect } from "chai";
import { makeFakeAmdPki, type FakeAmdPki } from "./simulated/amd-pki.ts";
import { expectedReportData, type GuestPublicKey } from "./binding.ts";
import { appraiseSnp, createSnpVerifier } from "./snp/index.ts";
import type { AttestationPolicySpec } from "../api/v1alpha1/generated/types.ts";
import { appraise, type AppraisalContext, type AttestationBackends } from "./appraise.ts";
import { compilePolicySpec } from "./policy/compiled-policy.ts";
import { aGuestPublicKey, fakeSnpEvidence } from "../../test/support/evidence/fake-snp-evidence.ts";

const NOW = new Date("2030-01-01T00:00:00Z");
const NONCE = "5e".repeat(32);
const MILAN_TCB = { bootloader: 3, tee: 0, snp: 8, microcode: 115 };
const CHIP_ID = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);
/** The synthetic report's MEASUREMENT, pinned by the policy unless a test says otherwise. */
const PINNED: AttestationPolicySpec = { snp: { measurement: ["aa".repeat(48)] } };

describe("appraise (parse → verify → binding → appraise → verdict)", () => {
  let pki: FakeAmdPki;
  let guestKey: GuestPublicKey;
  let backends: AttestationBackends;

  function run(
    value: unknown,
    given: { policy?: AttestationPolicySpec } & Partial<Pick<AppraisalContext, "nonce" | "expectedTee">> = {},
  ) {
    const { policy = PINNED, ...context } = given;
    return appraise(value, compilePolicySpec(policy), { now: NOW, backends, ...context });
  }

  function bundle(reportData: Uint8Array, policyBits?: number): Record<string, unknown> {
    const report = { version: 3, tcb: MILAN_TCB, chipId: CHIP_ID, reportData };
    return {
      ...fakeSnpEvidence(pki, policyBits === undefined ? report : { ...report, policy: policyBits }, {
        nonce: NONCE,
        publicKey: guestKey,
      }),
    };
  }

  before(async () => {
    pki = await makeFakeAmdPki({ product: "Milan", spl: MILAN_TCB, hwId: CHIP_ID });
    guestKey = await aGuestPublicKey();
    backends = {
      tees: { snp: { verifier: createSnpVerifier({ anchors: pki.anchors }), appraise: appraiseSnp } },
    };
  });

  it("affirms evidence that binds the expected nonce and the guest key", async () => {
    const b = bundle(await expectedReportData(NONCE, guestKey));
    const report = await run(b, { nonce: NONCE });
    expect(report.tee.errors).to.deep.equal([]);
    expect(report.tee.binding).to.equal("match");
    expect(report.verdict).to.equal("affirming");
  });

  it("refuses a bundle answering another challenge (NonceMismatch) and a stale report (BindingMismatch)", async () => {
    const b = bundle(await expectedReportData(NONCE, guestKey));
    const other = "77".repeat(32);
    const report = await run(b, { nonce: other });
    expect(report.tee.errors.map((e) => e.code)).to.include.members(["NonceMismatch", "BindingMismatch"]);
    expect(report.verdict).to.equal("contraindicated");
  });

  it("refuses evidence bound to another key even with the right nonce", async () => {
    const b = bundle(new Uint8Array(64).fill(1));
    const report = await run(b, { nonce: NONCE });
    expect(report.tee.errors.map((e) => e.code)).to.deep.equal(["BindingMismatch"]);
    expect(report.verdict).to.equal("contraindicated");
  });

  it("without an expected nonce reports the binding and is at best a warning (BindingMismatch / BindingUnchecked)", async () => {
    const unbound = await run(bundle(new Uint8Array(64)));
    expect(unbound.tee.binding).to.equal("mismatch");
    expect(unbound.tee.errors).to.deep.equal([]);
    expect(unbound.warnings.map((w) => [w.code, w.tolerated])).to.deep.equal([["BindingMismatch", false]]);
    expect(unbound.verdict).to.equal("warning");
    const bound = await run(bundle(await expectedReportData(NONCE, guestKey)));
    expect(bound.tee.binding).to.equal("match");
    expect(bound.warnings.map((w) => w.code)).to.deep.equal(["BindingUnchecked"]);
    expect(bound.verdict).to.equal("warning");
  });

  it("is at best a warning when the policy pins no measurement (MeasurementsUnpinned), tolerated only by opt-in", async () => {
    const b = bundle(await expectedReportData(NONCE, guestKey));
    const tdxOnly = await run(b, { nonce: NONCE, policy: { tdx: { mrTd: ["bb".repeat(48)] } } });
    expect(tdxOnly.warnings).to.have.length(1);
    expect(tdxOnly.warnings[0]).to.deep.include({ code: "MeasurementsUnpinned", tolerated: false });
    expect(tdxOnly.verdict).to.equal("warning");
    const optedIn = await run(b, { nonce: NONCE, policy: { allowUnpinnedMeasurements: true } });
    expect(optedIn.warnings.map((w) => [w.code, w.tolerated])).to.deep.equal([
      ["MeasurementsUnpinned", true],
    ]);
    expect(optedIn.verdict).to.equal("warning");
  });

  it("turns policy violations into a contraindicated verdict, listing each", async () => {
    const DEBUG = (1 << 19) | (1 << 17);
    const report = await run(bundle(await expectedReportData(NONCE, guestKey), DEBUG), {
      policy: { snp: { measurement: ["ab".repeat(48)] } },
    });
    expect(report.tee.authentic).to.equal(true);
    expect(report.policy.violations.map((v) => v.field)).to.include.members([
      "spec.snp.allowDebug",
      "spec.snp.measurement",
    ]);
    expect(new Set(report.policy.violations.map((v) => v.code))).to.deep.equal(new Set(["PolicyViolation"]));
    expect(report.verdict).to.equal("contraindicated");
  });

  const malformed: [string, unknown, string][] = [
    ["a bundle without a nonce", { publicKey: {}, tee: { type: "snp" } }, "EvidenceMalformed"],
    [
      "a TEE type nobody verifies",
      { nonce: NONCE, publicKey: { kty: "EC", crv: "P-256", x: "a", y: "b" }, tee: { type: "sgx" } },
      "EvidenceMalformed",
    ],
    [
      "an SNP report that is not base64 of a report",
      {
        nonce: NONCE,
        publicKey: { kty: "EC", crv: "P-256", x: "a", y: "b" },
        tee: { type: "snp", report: "bm90IGEgcmVwb3J0" },
      },
      "EvidenceMalformed",
    ],
    ["not an object at all", [1, 2, 3], "EvidenceMalformed"],
  ];
  for (const [name, value, code] of malformed) {
    it(`is contraindicated, never throwing, for ${name}`, async () => {
      const report = await run(value);
      expect(report.verdict).to.equal("contraindicated");
      expect(report.tee.errors.map((e) => e.code)).to.include(code);
    });
  }

  it("is contraindicated, TeeMismatch, for genuine evidence of another TEE than the one expected", async () => {
    const b = bundle(await expectedReportData(NONCE, guestKey));
    const report = await run(b, { nonce: NONCE, expectedTee: "tdx" });
    expect(report.tee.authentic).to.equal(true);
    expect(report.tee.errors.map((e) => e.code)).to.deep.equal(["TeeMismatch"]);
    expect(report.verdict).to.equal("contraindicated");
    expect((await run(b, { nonce: NONCE, expectedTee: "snp" })).verdict).to.equal("affirming");
  });

  it("fails closed on GPU evidence when no GPU verifier is configured", async () => {
    const b = {
      ...bundle(await expectedReportData(NONCE, guestKey)),
      gpus: [{ arch: "HOPPER", evidence: "AAAA", certChain: "x" }],
    };
    const report = await run(b, { nonce: NONCE });
    expect(report.gpus[0]?.errors.map((e) => e.code)).to.deep.equal(["VerifierUnavailable"]);
    expect(report.verdict).to.equal("contraindicated");
  });
});
