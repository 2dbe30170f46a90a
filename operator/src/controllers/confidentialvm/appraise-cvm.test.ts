import { expect } from "chai";
import { makeFakeAmdPki, type FakeAmdPki } from "../../attestation/simulated/amd-pki.ts";
import { aConfidentialVM } from "../../../test/support/builders/confidential-vm.ts";
import { expectedReportData, type GuestPublicKey } from "../../attestation/binding.ts";
import { checkAttestationResult } from "../../attestation/result/result-token.ts";
import {
  generateSigningKey,
  publicJwks,
  type StoredSigningKey,
} from "../../attestation/result/signing-keys.ts";
import { appraiseSnp, createSnpVerifier } from "../../attestation/snp/index.ts";
import { compilePolicySpec } from "../../attestation/policy/compiled-policy.ts";
import {
  appraiseCvm,
  type CvmAppraisalContext,
  DEFAULT_MAX_EVIDENCE_BYTES,
  gpuAllocationOf,
} from "./appraise-cvm.ts";
import { aGuestPublicKey, fakeSnpEvidence } from "../../../test/support/evidence/fake-snp-evidence.ts";

const NOW = new Date("2030-01-01T00:00:00Z");
const NONCE = "c0".repeat(32);
const TCB = { bootloader: 3, tee: 0, snp: 8, microcode: 115 };
const CHIP_ID = Uint8Array.from({ length: 64 }, (_, i) => i);

describe("appraiseCvm (controller side of the handshake)", () => {
  let pki: FakeAmdPki;
  let guestKey: GuestPublicKey;
  let signingKey: StoredSigningKey;

  function cvmAnswering(reportData: Uint8Array, gpusAssigned = 0) {
    const cvm = aConfidentialVM({ tee: "snp", gpus: { count: gpusAssigned } });
    cvm.status = {
      challenge: { nonce: NONCE, issuedAt: "2029-12-31T23:59:00Z", expiresAt: "2030-01-01T00:04:00Z" },
      gpus: Array.from({ length: gpusAssigned }, (_, i) => ({ pciAddress: `0000:1${i}:00.0` })),
      vmInstanceUid: "vmi-7",
      evidence: fakeSnpEvidence(
        pki,
        { version: 3, tcb: TCB, chipId: CHIP_ID, reportData },
        { nonce: NONCE, publicKey: guestKey },
      ),
    };
    return cvm;
  }

  const policy = compilePolicySpec({ snp: { measurement: ["aa".repeat(48)] } });

  function context(): CvmAppraisalContext {
    return {
      maxEvidenceBytes: DEFAULT_MAX_EVIDENCE_BYTES,
      backends: {
        tees: { snp: { verifier: createSnpVerifier({ anchors: pki.anchors }), appraise: appraiseSnp } },
      },
      gpuIdentitiesElsewhere: new Map(),
      signingKey,
      issuer: "trustgate",
      subject: "team-a/llm-inference",
      now: NOW,
    };
  }

  before(async () => {
    pki = await makeFakeAmdPki({ product: "Milan", spl: TCB, hwId: CHIP_ID });
    guestKey = await aGuestPublicKey();
    signingKey = await generateSigningKey(NOW);
  });

  it("affirms bound evidence and signs a result bound to the guest key", async () => {
    const attestation = await appraiseCvm(
      cvmAnswering(await expectedReportData(NONCE, guestKey)),
      policy,
      context(),
    );
    expect(attestation.verdict, JSON.stringify(attestation.violations)).to.equal("affirming");
    expect(attestation.expiresAt).to.equal("2030-01-01T02:00:00Z");
    const check = await checkAttestationResult(attestation.token ?? "", publicJwks([signingKey]), {
      now: NOW,
    });
    expect(check.ok).to.equal(true);
    if (!check.ok) throw new Error(check.reason);
    expect(check.claims.cnf.jkt).to.equal(attestation.keyThumbprint);
    expect(check.claims["trustgate.tee"]).to.deep.equal({ type: "snp", product: "Milan" });
    expect(check.claims["trustgate.policy"]).to.deep.equal({ name: "inline" });
    expect(attestation).to.deep.include({ policyName: "inline", vmInstanceUid: "vmi-7" });
    expect(check.claims["trustgate.vmi"], "the result holds for the instance that answered").to.equal(
      "vmi-7",
    );
  });

  it("is contraindicated, with no token, when the report binds another key or nonce", async () => {
    const attestation = await appraiseCvm(cvmAnswering(new Uint8Array(64).fill(7)), policy, context());
    expect(attestation.verdict).to.equal("contraindicated");
    expect(attestation.violations?.map((v) => v.code)).to.include("BindingMismatch");
    expect(attestation.token).to.equal(undefined);
  });

  it("is contraindicated, TeeMismatch, when a TDX CVM is answered with genuine SNP evidence", async () => {
    const cvm = cvmAnswering(await expectedReportData(NONCE, guestKey));
    cvm.spec = { ...cvm.spec, tee: "tdx" };
    const attestation = await appraiseCvm(cvm, policy, context());
    expect(attestation.verdict).to.equal("contraindicated");
    expect(attestation.violations?.map((v) => v.code)).to.deep.equal(["TeeMismatch"]);
    expect(attestation.token).to.equal(undefined);
  });

  it("does not attest a guest whose measurement the policy does not pin, unless the policy opts in", async () => {
    const cvm = cvmAnswering(await expectedReportData(NONCE, guestKey));
    const unpinned = await appraiseCvm(
      cvm,
      compilePolicySpec({ tdx: { mrTd: ["bb".repeat(48)] } }),
      context(),
    );
    expect(unpinned.verdict).to.equal("warning");
    expect(unpinned.violations?.map((v) => v.code)).to.deep.equal(["MeasurementsUnpinned"]);
    expect(unpinned.token, "no signed result for an untolerated warning").to.equal(undefined);
    const optedIn = await appraiseCvm(cvm, compilePolicySpec({ allowUnpinnedMeasurements: true }), context());
    expect(optedIn.verdict).to.equal("warning");
    expect(optedIn.violations).to.deep.equal([]);
    expect(
      optedIn.warnings?.map((w) => w.code),
      "the tolerated warning is kept in status",
    ).to.deep.equal(["MeasurementsUnpinned"]);
    expect(optedIn.token).to.be.a("string");
  });

  it("is contraindicated when assigned GPUs are missing from the evidence", async () => {
    const attestation = await appraiseCvm(
      cvmAnswering(await expectedReportData(NONCE, guestKey), 2),
      policy,
      context(),
    );
    expect(attestation.verdict).to.equal("contraindicated");
    expect(attestation.violations?.map((v) => v.message)).to.include(
      "status.gpus: the bundle holds evidence of 0 GPUs, 2 are assigned",
    );
  });

  it("is contraindicated for malformed evidence, never throwing", async () => {
    const cvm = cvmAnswering(new Uint8Array(64));
    if (cvm.status?.evidence !== undefined) cvm.status.evidence.tee.report = "bm90IGEgcmVwb3J0";
    const attestation = await appraiseCvm(cvm, policy, context());
    expect(attestation.verdict).to.equal("contraindicated");
    expect(attestation.violations?.[0]?.code).to.equal("EvidenceMalformed");
  });

  it("refuses, unread, a bundle over the size limit, even authentic and bound", async () => {
    const cvm = cvmAnswering(await expectedReportData(NONCE, guestKey));
    const size = Buffer.byteLength(JSON.stringify(cvm.status?.evidence));
    const atLimit = await appraiseCvm(cvm, policy, { ...context(), maxEvidenceBytes: size });
    expect(atLimit.verdict, "a bundle of exactly the limit is accepted").to.equal("affirming");
    const over = await appraiseCvm(cvm, policy, { ...context(), maxEvidenceBytes: size - 1 });
    expect(over).to.deep.include({ verdict: "contraindicated", nonce: NONCE, gpus: [] });
    expect(over.tee).to.deep.include({ type: "snp", tcbStatus: "Unknown" });
    expect(over.violations).to.deep.equal([
      {
        code: "EvidenceTooLarge",
        message: `snp: status.evidence is ${size} bytes of JSON, more than the limit of ${size - 1} (--max-evidence-bytes); not verified`,
      },
    ]);
    expect(over.token).to.equal(undefined);
  });
});

describe("gpuAllocationOf: what the appraisal and the result know of the VM's GPUs", () => {
  const cvm = (status: NonNullable<ReturnType<typeof aConfidentialVM>["status"]>) => {
    const c = aConfidentialVM({ tee: "snp", gpus: { count: 2 } });
    c.status = status;
    return c;
  };
  it("counts and names the GPUs the host reports allocated", () => {
    const allocation = gpuAllocationOf(
      cvm({
        gpus: [
          { pciAddress: "0000:2a:00.0", model: "H100" },
          { pciAddress: "0000:5d:00.0", model: "H100" },
        ],
        gpuAllocation: { state: "Observed", message: "reported" },
      }),
    );
    expect(allocation).to.deep.equal({
      count: 2,
      result: { state: "Observed", pciAddresses: ["0000:2a:00.0", "0000:5d:00.0"], message: "reported" },
      warnings: [],
    });
  });
  it("counts the requested GPUs and names none while the allocation is not known", () => {
    const allocation = gpuAllocationOf(
      cvm({
        gpus: [{ model: "H100" }, { model: "H100" }],
        gpuAllocation: { state: "Unknown", message: "no API" },
      }),
    );
    expect(allocation).to.deep.equal({
      count: 2,
      result: { state: "Unknown", message: "no API" },
      warnings: [],
    });
    expect(gpuAllocationOf(cvm({ gpus: [{ pciAddress: "0000:2a:00.0" }] })).result).to.deep.equal({
      state: "Unknown",
    });
  });
  it("fails closed on a refused allocation: an untolerated GpuAllocationRefused warning", () => {
    const allocation = gpuAllocationOf(
      cvm({
        gpus: [{ model: "H100" }],
        gpuAllocation: { state: "Refused", message: "GPU 0000:c1:00.0 not listed" },
      }),
    );
    expect(allocation.warnings).to.deep.equal([
      { code: "GpuAllocationRefused", message: "GPU 0000:c1:00.0 not listed", tolerated: false },
    ]);
  });
  it("has nothing to say about a CVM without GPUs", () => {
    expect(gpuAllocationOf(cvm({}))).to.deep.equal({ count: 0, result: undefined, warnings: [] });
  });
});
