import { expect } from "chai";
import { isDue, killTriggers, landedDuring } from "./kill-schedule.ts";

describe("killTriggers", () => {
  const cases: { kills: number; cvms: number; expected: ReturnType<typeof killTriggers> }[] = [
    { kills: 0, cvms: 100, expected: [] },
    { kills: 1, cvms: 100, expected: [{ during: "placement", placedAtLeast: 25 }] },
    {
      kills: 2,
      cvms: 12,
      expected: [
        { during: "placement", placedAtLeast: 3 },
        { during: "attestation", attestedAtLeast: 6 },
      ],
    },
    {
      kills: 5,
      cvms: 1000,
      expected: [
        { during: "placement", placedAtLeast: 125 },
        { during: "placement", placedAtLeast: 250 },
        { during: "placement", placedAtLeast: 375 },
        { during: "attestation", attestedAtLeast: 333 },
        { during: "attestation", attestedAtLeast: 666 },
      ],
    },
    // Never a trigger at 0: each kill waits for something to have happened.
    {
      kills: 3,
      cvms: 2,
      expected: [
        { during: "placement", placedAtLeast: 1 },
        { during: "placement", placedAtLeast: 1 },
        { during: "attestation", attestedAtLeast: 1 },
      ],
    },
  ];
  for (const c of cases) {
    it(`${String(c.kills)} kills over ${String(c.cvms)} CVMs`, () => {
      expect(killTriggers(c.kills, c.cvms)).to.deep.equal(c.expected);
    });
  }

  it("keeps placement kills below half of the CVMs placed", () => {
    for (const trigger of killTriggers(9, 1000)) {
      if (trigger.during === "placement") expect(trigger.placedAtLeast).to.be.below(500);
    }
  });

  it("refuses a negative or fractional count, naming it", () => {
    expect(() => killTriggers(-1, 10)).to.throw("kills must be a whole number >= 0, not -1");
    expect(() => killTriggers(2, 0.5)).to.throw("cvms must be a positive whole number, not 0.5");
  });
});

describe("isDue and landedDuring", () => {
  const cases = [
    { trigger: { during: "placement", placedAtLeast: 5 } as const, placed: 4, attested: 9, due: false },
    { trigger: { during: "placement", placedAtLeast: 5 } as const, placed: 5, attested: 0, due: true },
    { trigger: { during: "attestation", attestedAtLeast: 5 } as const, placed: 10, attested: 4, due: false },
    { trigger: { during: "attestation", attestedAtLeast: 5 } as const, placed: 10, attested: 5, due: true },
  ];
  for (const c of cases) {
    it(`${c.trigger.during} trigger at placed ${String(c.placed)}, attested ${String(c.attested)}: ${String(c.due)}`, () => {
      expect(isDue(c.trigger, { created: 10, placed: c.placed, attested: c.attested })).to.equal(c.due);
    });
  }

  it("calls a kill a placement kill while any CVM has no VirtualMachine", () => {
    expect(landedDuring({ created: 10, placed: 9, attested: 8 }, 10)).to.equal("placement");
    expect(landedDuring({ created: 10, placed: 10, attested: 0 }, 10)).to.equal("attestation");
  });
});
