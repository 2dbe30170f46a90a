import { expect } from "chai";
import type { Verdict } from "../../attestation/types.ts";
import { exitCodeFor, type FailOn, parseFailOn } from "./exit-code.ts";

describe("trustgate verify exit status (--fail-on)", () => {
  const table: [Verdict, FailOn, number][] = [
    ["affirming", "warning", 0],
    ["warning", "warning", 1],
    ["contraindicated", "warning", 1],
    ["affirming", "contraindicated", 0],
    ["warning", "contraindicated", 0],
    ["contraindicated", "contraindicated", 1],
  ];
  for (const [verdict, failOn, code] of table) {
    it(`${verdict} with --fail-on ${failOn}: ${String(code)}`, () => {
      expect(exitCodeFor(verdict, failOn)).to.equal(code);
    });
  }

  it("fails on a warning by default and refuses other values as a usage error", () => {
    expect(parseFailOn(undefined)).to.equal("warning");
    expect(parseFailOn("contraindicated")).to.equal("contraindicated");
    expect(() => parseFailOn("affirming")).to.throw(
      /--fail-on "affirming" must be warning or contraindicated/,
    );
    expect(() => parseFailOn("Warning")).to.throw(/must be warning or contraindicated/);
  });
});
