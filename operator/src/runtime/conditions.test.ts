import { expect } from "chai";
import { setCondition } from "./conditions.ts";

describe("setCondition", () => {
  const t0 = new Date("2026-11-25T10:00:00.123Z");
  const t1 = new Date("2026-11-25T11:00:00Z");
  const base = setCondition([], { type: "Validated", status: "True", reason: "Valid", message: "ok" }, 3, t0);

  it("adds a condition with observedGeneration and a second-precision transition time", () => {
    expect(base).to.deep.equal([
      {
        type: "Validated",
        status: "True",
        reason: "Valid",
        message: "ok",
        lastTransitionTime: "2026-11-25T10:00:00Z",
        observedGeneration: 3,
      },
    ]);
  });

  it("keeps lastTransitionTime when only the reason or message changes", () => {
    const next = setCondition(
      base,
      { type: "Validated", status: "True", reason: "Valid", message: "still ok" },
      4,
      t1,
    );
    expect(next[0]?.lastTransitionTime).to.equal("2026-11-25T10:00:00Z");
    expect(next[0]?.observedGeneration).to.equal(4);
  });

  it("moves lastTransitionTime when the status flips", () => {
    const next = setCondition(
      base,
      { type: "Validated", status: "False", reason: "Stale", message: "old" },
      3,
      t1,
    );
    expect(next[0]?.lastTransitionTime).to.equal("2026-11-25T11:00:00Z");
  });

  it("leaves other conditions and the input alone", () => {
    const next = setCondition(
      base,
      { type: "TEEReady", status: "True", reason: "Enabled", message: "" },
      3,
      t1,
    );
    expect(next.map((c) => c.type)).to.deep.equal(["Validated", "TEEReady"]);
    expect(base).to.have.length(1);
  });
});
