import { expect } from "chai";
import { SHARED_GPU_ITEMS, sharedGpuEntry } from "../../../test/fixtures/nvidia/shared-items.ts";
import { createLocalGpuVerifier } from "./verifier.ts";

describe("tampering with GPU/NVSwitch evidence", function () {
  this.timeout(120_000);
  // One verifier: the device chain stays cached, so every flip costs one parse and at most one P-384 verify.
  const verifier = createLocalGpuVerifier();

  for (const shared of SHARED_GPU_ITEMS) {
    const verdict = shared.verdicts.find((v) => v.authentic);
    it(`${shared.item}: flipping any byte of request ‖ response or of the signature is never authentic`, async () => {
      const entry = sharedGpuEntry(shared);
      const now = new Date(verdict?.at ?? "");
      const [untouched] = await verifier.verify([entry], { now });
      expect(untouched?.authentic).to.equal(true);
      const original = Buffer.from(entry.evidence, "base64");
      const codes = new Map<string, number>();
      for (let offset = 0; offset < original.length; offset++) {
        const tampered = Buffer.from(original);
        tampered[offset] = (tampered[offset] ?? 0) ^ 0xff;
        const [result] = await verifier.verify([{ ...entry, evidence: tampered.toString("base64") }], {
          now,
        });
        expect(result?.authentic, `byte ${offset}`).to.equal(false);
        const code = result?.errors[0]?.code ?? "none";
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      // Flips of headers and length fields make the evidence unparseable; all others break the signature.
      expect([...codes.keys()].sort()).to.deep.equal(["EvidenceMalformed", "SignatureInvalid"]);
      expect(codes.get("SignatureInvalid")).to.be.greaterThan(original.length / 2);
    });
  }
});
