import { expect } from "chai";
import type { ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import { trimForAdmission } from "./cvm-trim.ts";
import { attestationState } from "./workloads.ts";
import { aConfidentialVM } from "../../test/support/builders/confidential-vm.ts";

const NOW = new Date("2026-11-25T12:00:00Z");

function aCvm(status: NonNullable<ConfidentialVM["status"]>): ConfidentialVM {
  return aConfidentialVM({ tee: "snp", gpus: { count: 8 } }, "llm", {
    metadata: { namespace: "ml", generation: 2 },
    status,
  });
}

const attested = (observedGeneration: number, expiresAt: string) =>
  aCvm({
    phase: "Attested",
    conditions: [
      {
        type: "Attested",
        status: "True",
        reason: "Affirming",
        message: "ok",
        observedGeneration,
        lastTransitionTime: "2026-11-25T11:00:00Z",
      },
    ],
    attestation: {
      verdict: "affirming",
      verifiedAt: "2026-11-25T11:00:00Z",
      expiresAt,
      token: "x".repeat(4096),
    },
    evidence: {
      nonce: "aa".repeat(32),
      publicKey: { kty: "EC", crv: "P-256", x: "x", y: "y" },
      tee: { type: "snp", report: "A".repeat(100_000) },
    },
  });

describe("trimForAdmission", function () {
  const cases: [string, ConfidentialVM][] = [
    ["attested and unexpired", attested(2, "2026-11-25T13:00:00Z")],
    ["attested but expired", attested(2, "2026-11-25T11:30:00Z")],
    ["attested for an older generation", attested(1, "2026-11-25T13:00:00Z")],
    ["no status yet", aCvm({})],
    ["no Attested condition yet", aCvm({ phase: "Scheduling" })],
  ];
  for (const [name, cvm] of cases) {
    it(`decides the same on the trimmed object: ${name}`, function () {
      const trimmed = structuredClone(cvm);
      trimForAdmission(trimmed);
      expect(attestationState(trimmed, NOW)).to.deep.equal(attestationState(cvm, NOW));
      expect(trimmed.spec.policyRef).to.equal("production");
    });
  }

  it("drops the evidence bundle, the signed result and the rest of spec", function () {
    const trimmed = attested(2, "2026-11-25T13:00:00Z");
    trimForAdmission(trimmed);
    expect(trimmed.status?.evidence).to.equal(undefined);
    expect(trimmed.status?.attestation).to.deep.equal({ expiresAt: "2026-11-25T13:00:00Z" });
    expect(Object.keys(trimmed.spec)).to.deep.equal(["policyRef"]);
    expect(JSON.stringify(trimmed).length).to.be.below(1000);
  });
});
