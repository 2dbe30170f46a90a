import { expect } from "chai";
import { join } from "node:path";
import { FIXTURE_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import type { TeeEvidence } from "../types.ts";
import { tdxTeeFromItem } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { parseTdxQuote } from "./quote.ts";
import { createTdxVerifier } from "./verifier.ts";

const verifier = createTdxVerifier();
const bases = [
  { name: "dcapqvl-uptodate-v4", now: new Date("2025-07-01T00:00:00Z") },
  { name: "dcapqvl-v5-no-tcb-level", now: new Date("2026-03-01T00:00:00Z") },
];

/** Deterministic xorshift32, so a failing offset can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

describe("tamper resistance (every byte of the signed and bound regions)", function () {
  this.timeout(60_000);

  for (const base of bases) {
    describe(base.name, () => {
      const tee = tdxTeeFromItem(join(FIXTURE_TDX_DIR, base.name));
      const original = Buffer.from(tee.quote ?? "", "base64");
      const quote = parseTdxQuote(original);
      // Before the PEM: header, body, signatures, attestation key, QE report, QE auth data and every length and
      // type field. The PEM chain is covered by the certificate signatures and sampled separately.
      const pemStart = original.indexOf("-----BEGIN");

      async function authenticAfter(mutate: (bytes: Buffer) => void): Promise<boolean> {
        const bytes = Buffer.from(original);
        mutate(bytes);
        const evidence: TeeEvidence = { ...tee, quote: bytes.toString("base64") };
        const result = await verifier.verify(evidence, { now: base.now });
        return result.authentic || result.errors.length === 0;
      }

      it("is authentic untouched", async () => {
        expect(await authenticAfter(() => undefined)).to.equal(true);
        expect(pemStart).to.be.within(1200, quote.size);
      });

      it(`flipping any byte before the PCK chain (all ${pemStart} of them, two masks) is never authentic`, async () => {
        const next = random(0x9e3779b9);
        const accepted: string[] = [];
        for (let offset = 0; offset < pemStart; offset++) {
          const bit = 1 << Math.floor(next() * 8);
          for (const mask of [0xff, bit]) {
            if (await authenticAfter((bytes) => void (bytes[offset] = (bytes[offset] ?? 0) ^ mask))) {
              accepted.push(`offset ${offset} mask ${mask}`);
            }
          }
        }
        expect(accepted).to.deep.equal([]);
      });

      it("flipping a deterministic sample of 300 PCK chain bytes is never authentic", async () => {
        const next = random(0x1234567);
        const accepted: number[] = [];
        for (let run = 0; run < 300; run++) {
          const offset = pemStart + Math.floor(next() * (quote.size - pemStart));
          if (await authenticAfter((bytes) => void (bytes[offset] = (bytes[offset] ?? 0) ^ 0xff))) {
            accepted.push(offset);
          }
        }
        expect(accepted).to.deep.equal([]);
      });

      it("the padding after the declared end is not signed and may change", async () => {
        if (original.length === quote.size) return;
        expect(await authenticAfter((bytes) => bytes.fill(0x5a, quote.size))).to.equal(true);
      });
    });
  }
});
