import { expect } from "chai";
import { restartPoints } from "./control-plane-restarts.ts";

describe("restartPoints", () => {
  const cases = [
    { targets: 1, cvms: 1000, expected: [500] },
    { targets: 2, cvms: 1000, expected: [333, 666] },
    { targets: 2, cvms: 12, expected: [4, 8] },
    // Never at 0 Attested: the rollout must be under way.
    { targets: 2, cvms: 1, expected: [1, 1] },
  ];
  for (const c of cases) {
    it(`${String(c.targets)} restarts over ${String(c.cvms)} CVMs`, () => {
      expect(restartPoints(c.targets, c.cvms)).to.deep.equal(c.expected);
    });
  }
});
