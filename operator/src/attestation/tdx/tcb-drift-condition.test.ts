import { expect } from "chai";
import type { TcbDrift } from "./tcb-drift.ts";
import { tcbDriftCondition } from "./tcb-drift-condition.ts";

const drift = (drifting: boolean, compared: boolean, reason: string): TcbDrift => ({
  drifting,
  compared,
  current: { status: "UpToDate", evaluationDataNumber: 17, advisoryIds: [] },
  coming: { status: drifting ? "OutOfDate" : "UpToDate", evaluationDataNumber: 18, advisoryIds: [] },
  reason,
});

describe("tcbDriftCondition", () => {
  const table: [string, TcbDrift, { status: string; reason: string }][] = [
    ["a drop is TcbDriftSoon=True", drift(true, true, "drops"), { status: "True", reason: "TcbDriftSoon" }],
    ["no drop is False, NoTcbDrift", drift(false, true, "same"), { status: "False", reason: "NoTcbDrift" }],
    [
      "early TCB info not compared is False, EarlyTcbInfoUnusable",
      drift(false, false, "another FMSPC"),
      { status: "False", reason: "EarlyTcbInfoUnusable" },
    ],
  ];
  for (const [name, input, expected] of table) {
    it(name, () => {
      expect(tcbDriftCondition(input)).to.deep.equal({
        type: "TcbDriftSoon",
        ...expected,
        message: input.reason,
      });
    });
  }
});
