import { expect } from "chai";
import type { ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import { aPod, aRequest, anAttestedCvm, aWorkload } from "../../test/support/builders/admission-requests.ts";
import { type AdmissionView, targetOf, validateAdmission } from "./validate.ts";

const NOW = new Date("2026-11-25T10:00:00Z");

function view(synced = true, cvms: ConfidentialVM[] = []): AdmissionView {
  return {
    synced: () => synced,
    cvm: (ns, name) => cvms.find((c) => c.metadata.namespace === ns && c.metadata.name === name),
    policy: () => undefined,
    policyUsers: (name) => cvms.filter((c) => c.spec.policyRef === name),
  };
}

describe("validateAdmission", () => {
  it("routes each kind to its validator", () => {
    expect(targetOf(aRequest("Pod", aPod()))).to.equal("workloads");
    expect(targetOf(aRequest("CronJob", aWorkload("CronJob")))).to.equal("workloads");
    expect(targetOf(aRequest("ConfidentialVM", {}))).to.equal("confidentialVMs");
    expect(targetOf(aRequest("AttestationPolicy", {}))).to.equal("attestationPolicies");
    expect(targetOf(aRequest("Service", {}))).to.equal(undefined);
  });

  it("refuses with 503 until the caches have synced (fail closed)", () => {
    expect(validateAdmission("workloads", aRequest("Pod", aPod()), view(false), NOW)).to.deep.equal({
      allowed: false,
      code: 503,
      message:
        "trustgate: the admission webhook is starting and has not synced its caches yet; retry shortly",
    });
  });

  it("decides with the caches once synced", () => {
    const cvms = [anAttestedCvm("llm", { expiresAt: "2026-11-25T11:00:00Z" })];
    expect(validateAdmission("workloads", aRequest("Pod", aPod("llm")), view(true, cvms), NOW)).to.deep.equal(
      {
        allowed: true,
      },
    );
    const policyDelete = aRequest("AttestationPolicy", null, {
      operation: "DELETE",
      oldObject: { metadata: { name: "production" } },
    });
    expect(validateAdmission("attestationPolicies", policyDelete, view(true, cvms), NOW).message).to.include(
      "team-a/llm",
    );
    expect(
      validateAdmission(
        "confidentialVMs",
        aRequest("ConfidentialVM", { spec: { policyRef: "x" } }),
        view(),
        NOW,
      ),
    ).to.include({ allowed: false, code: 403 });
  });

  it("still judges a gated kind that arrives on the wrong path (fail closed), with a warning", () => {
    const decision = validateAdmission("confidentialVMs", aRequest("Pod", aPod("nope")), view(), NOW);
    expect(decision.allowed).to.equal(false);
    expect(decision.message).to.include("nope");
    expect(decision.warnings?.[0]).to.include(
      "was sent to /validate/confidentialvms, which does not validate it",
    );
  });

  it("allows, with a warning, a kind trustgate does not gate on any path", () => {
    const decision = validateAdmission("workloads", aRequest("Service", {}), view(), NOW);
    expect(decision.allowed).to.equal(true);
    expect(decision.warnings?.[0]).to.include("which does not validate it");
  });

  it("turns a validator that throws into a denial", () => {
    const broken: AdmissionView = {
      ...view(),
      cvm: () => {
        throw new Error("cache exploded");
      },
    };
    expect(validateAdmission("workloads", aRequest("Pod", aPod("llm")), broken, NOW)).to.deep.equal({
      allowed: false,
      code: 500,
      message: "trustgate: the admission webhook failed to decide: cache exploded",
    });
  });
});
