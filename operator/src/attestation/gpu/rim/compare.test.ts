import { expect } from "chai";
import { compareMeasurements, type RimForComparison } from "./compare.ts";

const HASH = "ab".repeat(48);
const block = { index: 1, valueType: 0, value: Buffer.from(HASH, "hex") };

function rim(
  over: Partial<RimForComparison["rim"]> = {},
  device = { edition: "GPU" as const, product: "GH100" },
) {
  const r: RimForComparison = {
    role: "driver",
    id: "NV_GPU_DRIVER_GH100_550.90.07",
    expectedVersion: "550.90.07",
    expectedDevice: device,
    rim: {
      version: "550.90.07",
      edition: "GPU",
      product: "GH100",
      measurements: [{ index: 0, active: true, hashes: [HASH] }],
      ...over,
    },
  };
  return r;
}

describe("compareMeasurements: a RIM's identity, not only its version", () => {
  const cases: [string, RimForComparison, string | undefined][] = [
    ["the device's own RIM matches", rim(), undefined],
    ["another version", rim({ version: "550.54.15" }), "describes version 550.54.15"],
    [
      "a switch RIM for a GPU",
      rim({ edition: "SWITCH", product: "LS10" }),
      "is for SWITCH LS10, the device is a GPU GH100",
    ],
    [
      "a Blackwell RIM for a Hopper GPU",
      rim({ product: "GB100" }),
      "is for GPU GB100, the device is a GPU GH100",
    ],
    [
      "a RIM whose every index is inactive (it would match anything)",
      rim({ measurements: [{ index: 0, active: false, hashes: [HASH] }] }),
      "has no active measurement index",
    ],
  ];
  for (const [name, r, message] of cases) {
    it(name, () => {
      const result = compareMeasurements([block], [r]);
      if (message === undefined) {
        expect(result).to.deep.include({ measurements: "match", active: 1, matched: 1, errors: [] });
      } else {
        expect(result.measurements).to.equal("mismatch");
        expect(result.errors.map((e) => e.message).join("\n")).to.include(message);
      }
    });
  }
});

describe("compareMeasurements: digests decoded once per text, never served for another text", () => {
  const other = "ab".repeat(47) + "ac";
  const measured = (value: Buffer) => [{ index: 1, valueType: 0, value }];
  const withHashes = (hashes: string[]) => rim({ measurements: [{ index: 0, active: true, hashes }] });
  const cases: [string, string[], Buffer, "match" | "mismatch"][] = [
    ["the RIM's digest", [HASH], Buffer.from(HASH, "hex"), "match"],
    [
      "the same block after a RIM with another digest was seen",
      [other],
      Buffer.from(HASH, "hex"),
      "mismatch",
    ],
    ["the other digest's own block", [other], Buffer.from(other, "hex"), "match"],
    ["one of two alternatives", [other, HASH], Buffer.from(HASH, "hex"), "match"],
    [
      "uppercase hex (never equal to a block's lowercase hex)",
      [HASH.toUpperCase()],
      Buffer.from(HASH, "hex"),
      "mismatch",
    ],
    ["hex followed by a non-hex character", [`${HASH}zz`], Buffer.from(HASH, "hex"), "mismatch"],
    ["odd-length hex that Node would cut short", [`${HASH}a`], Buffer.from(HASH, "hex"), "mismatch"],
    ["a shorter block with the digest's prefix", [HASH], Buffer.from(HASH.slice(0, 64), "hex"), "mismatch"],
  ];
  for (const [name, hashes, value, expected] of cases) {
    it(name, () => {
      // Run twice: the second comparison goes through the decoded digests of the first.
      for (let round = 0; round < 2; round++) {
        const result = compareMeasurements(measured(value), [withHashes(hashes)]);
        expect(result.measurements, `round ${round}`).to.equal(expected);
        if (expected === "mismatch") expect(result.mismatches[0]?.actual).to.equal(value.toString("hex"));
      }
    });
  }
});
