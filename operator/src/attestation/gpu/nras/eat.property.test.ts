import { expect } from "chai";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { nvidiaItemDir } from "../../../../test/fixtures/nvidia/shared-items.ts";
import { EvidenceError } from "../../types.ts";
import { appraiseNrasClaims } from "./claims.ts";
import { parseDetachedEat, submodDigestErrors } from "./eat.ts";

const real = readFileSync(`${nvidiaItemDir("nvtrust-hopper-550")}/nras_detached_eat.json`, "utf8");

/** Parsing and the digest check give an answer or throw an EvidenceError; nothing else escapes. */
function survives(value: unknown): boolean {
  try {
    submodDigestErrors(parseDetachedEat(value));
    return true;
  } catch (error) {
    return error instanceof EvidenceError;
  }
}

describe("NRAS EAT parser (properties)", () => {
  it("never throws anything but an EvidenceError on arbitrary JSON values or text", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => survives(value) && survives(JSON.stringify(value))),
      {
        numRuns: 2000,
      },
    );
    fc.assert(fc.property(fc.string({ maxLength: 300 }), survives), { numRuns: 2000 });
  });

  it("never throws on the real sample with characters changed, and never finds a changed GPU-0 token matching", () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 32, max: 126 }), (at, code) => {
        const index = at % real.length;
        const changed = `${real.slice(0, index)}${String.fromCharCode(code)}${real.slice(index + 1)}`;
        if (!survives(changed)) return false;
        if (changed === real) return true;
        try {
          const eat = parseDetachedEat(changed);
          const original = parseDetachedEat(real);
          // A changed detached token never matches the overall token's digest.
          return eat.submods["GPU-0"] === original.submods["GPU-0"] || submodDigestErrors(eat).length > 0;
        } catch {
          return true;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("appraises arbitrary claim objects without throwing", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (claims) => {
        const appraisal = appraiseNrasClaims(
          claims,
          { kind: "gpu", driverVersion: "550.90.07", vbiosVersion: "96.00.9F.00.01" },
          { mode: "remote", allowCertificateHold: false },
        );
        expect(["match", "mismatch", "unchecked"]).to.include(appraisal.measurements);
        return true;
      }),
      { numRuns: 1000 },
    );
  });
});
