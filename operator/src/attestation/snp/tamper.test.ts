import { expect } from "chai";
import fc from "fast-check";
import { localFixture, SHARED_REPORT_ITEMS, sharedItemDir } from "../../../test/fixtures/snp/shared-items.ts";
import type { TeeEvidence, VerifyOptions } from "../types.ts";
import { snpTeeFromItem } from "../../../test/support/evidence/snp-bundle-from-item.ts";
import { derToPem } from "../../crypto/pem.ts";
import { REPORT_SIZE, SIGNED_LENGTH } from "./report.ts";
import { createSnpVerifier } from "./verifier.ts";

/** R and S (72 bytes each) follow the signed region; the rest of the signature field must be zero. */
const SIGNATURE_END = SIGNED_LENGTH + 144;

function withReport(evidence: TeeEvidence, bytes: Uint8Array): TeeEvidence {
  return { ...evidence, report: Buffer.from(bytes).toString("base64") };
}

describe("tampering with SEV-SNP evidence", () => {
  // One verifier per run: chains stay cached, so every flip costs one report signature check.
  const verifier = createSnpVerifier();

  for (const { item, verdicts } of SHARED_REPORT_ITEMS) {
    it(`${item}: flipping any byte of the signed region or of R/S is never authentic`, async () => {
      const evidence = snpTeeFromItem(sharedItemDir(item));
      const options: VerifyOptions = { now: new Date(verdicts[0]?.at ?? "") };
      expect((await verifier.verify(evidence, options)).authentic).to.equal(true);
      const original = Buffer.from(evidence.report ?? "", "base64");
      let flips = 0;
      for (let offset = 0; offset < SIGNATURE_END; offset++) {
        const tampered = Uint8Array.from(original);
        tampered[offset] = (tampered[offset] ?? 0) ^ 0xff;
        const v = await verifier.verify(withReport(evidence, tampered), options);
        expect(v.authentic, `byte 0x${offset.toString(16)}`).to.equal(false);
        expect(v.tcbStatus).to.equal("Unknown");
        flips++;
      }
      expect(flips).to.equal(816);
    });
  }

  it("google-milan-v2: single-bit flips (bit 0 and bit 7) of every signed and R/S byte are never authentic", async () => {
    const evidence: TeeEvidence = {
      type: "snp",
      report: Buffer.from(localFixture("milan-v2-report.bin")).toString("base64"),
      vcek: derToPem(localFixture("milan-v2-vcek.der")),
    };
    const options = { now: new Date("2024-01-01T00:00:00Z") };
    const original = Buffer.from(evidence.report ?? "", "base64");
    let flips = 0;
    for (const mask of [0x01, 0x80]) {
      for (let offset = 0; offset < SIGNATURE_END; offset++) {
        const tampered = Uint8Array.from(original);
        tampered[offset] = (tampered[offset] ?? 0) ^ mask;
        expect((await verifier.verify(withReport(evidence, tampered), options)).authentic).to.equal(false);
        flips++;
      }
    }
    expect(flips).to.equal(1632);
  });

  it("google-milan-v2: a non-zero byte after R/S, any truncation or extension is EvidenceMalformed", async () => {
    const evidence = snpTeeFromItem(sharedItemDir("google-milan-v2"));
    const options = { now: new Date("2024-01-01T00:00:00Z") };
    const original = Buffer.from(evidence.report ?? "", "base64");
    const variants: Uint8Array[] = [];
    for (let offset = SIGNATURE_END; offset < REPORT_SIZE; offset++) {
      const tampered = Uint8Array.from(original);
      tampered[offset] = 1;
      variants.push(tampered);
    }
    for (let length = 0; length < REPORT_SIZE; length++) variants.push(original.subarray(0, length));
    variants.push(Buffer.concat([original, Buffer.from([0])]), Buffer.concat([original, original]));
    for (const bytes of variants) {
      const v = await verifier.verify(withReport(evidence, bytes), options);
      expect(v.authentic).to.equal(false);
      expect(v.errors.map((e) => e.code)).to.deep.equal(["EvidenceMalformed"]);
    }
    expect(variants).to.have.length(368 + 1184 + 2);
  });

  it("google-milan-v2: flipping every 4th byte of the VCEK is never authentic", async () => {
    const vcek = localFixture("milan-v2-vcek.der");
    const report = Buffer.from(localFixture("milan-v2-report.bin")).toString("base64");
    const options = { now: new Date("2024-01-01T00:00:00Z") };
    let flips = 0;
    for (let offset = 0; offset < vcek.length; offset += 4) {
      const tampered = Uint8Array.from(vcek);
      tampered[offset] = (tampered[offset] ?? 0) ^ 0xff;
      const v = await verifier.verify({ type: "snp", report, vcek: derToPem(tampered) }, options);
      expect(v.authentic, `VCEK byte ${offset}`).to.equal(false);
      flips++;
    }
    expect(flips).to.equal(340);
  });

  it("property: random bytes as a report are never authentic and never throw", async () => {
    const vcek = derToPem(localFixture("milan-v2-vcek.der"));
    const options = { now: new Date("2024-01-01T00:00:00Z") };
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 1300 }), async (bytes) => {
        const v = await verifier.verify(
          { type: "snp", report: Buffer.from(bytes).toString("base64"), vcek },
          options,
        );
        return !v.authentic && v.errors.length > 0;
      }),
      { numRuns: 200 },
    );
  });
});
