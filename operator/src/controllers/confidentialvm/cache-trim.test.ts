import { expect } from "chai";
import { aConfidentialVM } from "../../../test/support/builders/confidential-vm.ts";
import { trimConfidentialVM } from "./cache-trim.ts";

describe("trimConfidentialVM", () => {
  it("keeps the nonce, the key and the TEE type of the evidence, and the rest of the status whole", () => {
    const cvm = aConfidentialVM();
    const publicKey = { kty: "EC" as const, crv: "P-256" as const, x: "x", y: "y" };
    const challenge = {
      nonce: "ab".repeat(32),
      issuedAt: "2026-11-25T10:00:00Z",
      expiresAt: "2026-11-25T10:05:00Z",
    };
    cvm.status = {
      phase: "Attesting",
      challenge,
      evidence: {
        nonce: "ab".repeat(32),
        publicKey,
        tee: { type: "snp", report: "A".repeat(1580), vcek: "PEM" },
        gpus: [{ arch: "HOPPER", evidence: "B".repeat(4000), certChain: "PEM", rims: { driver: "<xml/>" } }],
      },
    };
    trimConfidentialVM(cvm);
    expect(cvm.status).to.deep.equal({
      phase: "Attesting",
      challenge,
      evidence: { nonce: "ab".repeat(32), publicKey, tee: { type: "snp" } },
    });
  });

  it("leaves a CVM without evidence or status alone", () => {
    const bare = aConfidentialVM();
    const before = structuredClone(bare);
    trimConfidentialVM(bare);
    expect(bare).to.deep.equal(before);
    bare.status = { phase: "Pending" };
    trimConfidentialVM(bare);
    expect(bare.status).to.deep.equal({ phase: "Pending" });
  });
});
