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
