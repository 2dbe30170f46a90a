import { expect } from "chai";
import { parseDuration } from "./duration.ts";

describe("parseDuration", () => {
  const cases: [string, number][] = [
    ["90s", 90_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1500],
    ["250ms", 250],
  ];
  for (const [text, ms] of cases) it(`reads ${text}`, () => expect(parseDuration(text)).to.equal(ms));
  for (const bad of ["", "5", "five minutes", "5d", "-1s"]) {
    it(`refuses "${bad}"`, () => expect(() => parseDuration(bad)).to.throw(/invalid duration/));
  }
});
