import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { deriveTcbInfo, tcbRecovery } from "../../../test/support/fakes/early-tcb-evaluation.ts";
import { tdxTeeFromItem } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { FIXTURE_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import type { TcbStatus } from "../types.ts";
import { verifyPckChain } from "./pck-chain.ts";
import { parseTdxQuote } from "./quote.ts";
import { tcbDrift, tcbStatusWorsens, type TcbDriftInput } from "./tcb-drift.ts";
import { parseQeIdentity, parseTcbInfo } from "./tcb-info.ts";
import { intelTrustAnchors } from "./trust-anchors.ts";
import { VerificationMemo } from "./verification-memo.ts";

describe("tcbStatusWorsens", () => {
  const table: [TcbStatus, TcbStatus, boolean | undefined][] = [
    ["UpToDate", "UpToDate", false],
    ["UpToDate", "SWHardeningNeeded", true],
    ["UpToDate", "OutOfDate", true],
    ["UpToDate", "Revoked", true],
    ["UpToDate", "NotSupported", true],
    ["OutOfDate", "UpToDate", false],
    ["OutOfDate", "OutOfDateConfigurationNeeded", true],
    ["OutOfDateConfigurationNeeded", "OutOfDate", false],
    ["ConfigurationAndSWHardeningNeeded", "SWHardeningNeeded", false],
    // Hardening and configuration needs are incomparable: a change between them is no better, so it warns.
    ["SWHardeningNeeded", "ConfigurationNeeded", true],
    ["ConfigurationNeeded", "SWHardeningNeeded", true],
    ["SWHardeningNeeded", "OutOfDate", true],
    ["NotSupported", "Revoked", true],
    ["Revoked", "Revoked", false],
    ["Revoked", "OutOfDate", false],
    ["Unknown", "OutOfDate", undefined],
    ["UpToDate", "Unknown", undefined],
  ];
  for (const [current, coming, expected] of table) {
    it(`${current} → ${coming}: ${String(expected)}`, () => {
      expect(tcbStatusWorsens(current, coming)).to.equal(expected);
    });
  }
});

describe("tcbDrift (pure; documents as the verifier parses them)", () => {
  // dcapqvl-uptodate-v4: Intel's evaluation 17 for FMSPC b0c06f000000 rates its TD UpToDate.
  const item = tdxTeeFromItem(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4"));
  const quote = parseTdxQuote(
    new Uint8Array(readFileSync(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4/quote.dat"))),
  );
  const pck = verifyPckChain(quote.pckCertChain, intelTrustAnchors(), new VerificationMemo()).tcb;
  const tcbText = item.collateral?.tcbInfo ?? "";
  const standard = {
    tcbInfo: parseTcbInfo(tcbText),
    qeIdentity: parseQeIdentity(item.collateral?.qeIdentity ?? ""),
  };
  const dropsToOutOfDate = parseTcbInfo(
    deriveTcbInfo(tcbText, {
      evaluationDataNumber: 18,
      levels: tcbRecovery({ tcbDate: "2024-11-13T00:00:00Z", advisoryIds: ["INTEL-SA-01036"], pceSvn: 13 }),
    }),
  );
  const input = (early: TcbDriftInput["early"], extra: Partial<TcbDriftInput> = {}): TcbDriftInput => ({
    quote,
    pck,
    standard,
    early,
    now: new Date("2025-07-01T00:00:00Z"),
    ...extra,
  });

  it("no early TCB info: undefined (no warning, not an error)", () => {
    expect(tcbDrift(input(undefined))).to.equal(undefined);
  });

  it("a switch date still ahead reads 'expected to apply from'", () => {
    const evaluationNumbers = {
      id: "TDX",
      issueDate: new Date("2025-06-05T00:00:00Z"),
      nextUpdate: new Date("2025-07-05T00:00:00Z"),
      numbers: [
        {
          evaluationDataNumber: 18,
          tcbRecoveryEventDate: new Date("2025-06-10T00:00:00Z"),
          tcbDate: new Date("2025-06-11T00:00:00Z"),
        },
      ],
    };
    const drift = tcbDrift(input({ tcbInfo: dropsToOutOfDate }, { evaluationNumbers }));
    expect(drift?.switchDate?.toISOString()).to.equal("2025-07-22T00:00:00.000Z");
    expect(drift?.reason).to.equal(
      "TCB evaluation 18 (expected to apply from 2025-07-22) rates this TD OutOfDate " +
        "(today UpToDate under evaluation 17); new advisories INTEL-SA-01036",
    );
  });

  it("evaluation numbers that do not name the early number give no switch date", () => {
    const evaluationNumbers = {
      id: "TDX",
      issueDate: new Date(0),
      nextUpdate: new Date(0),
      numbers: [{ evaluationDataNumber: 17, tcbRecoveryEventDate: new Date(0), tcbDate: new Date(0) }],
    };
    const drift = tcbDrift(input({ tcbInfo: dropsToOutOfDate }, { evaluationNumbers }));
    expect(drift?.drifting).to.equal(true);
    expect(drift).to.not.have.property("switchDate");
  });

  it("an early TCB info the TD cannot be rated under (not TDX v3): not compared, with the evaluation's reason", () => {
    const drift = tcbDrift(input({ tcbInfo: { ...dropsToOutOfDate, version: 2 } }));
    expect(drift).to.deep.include({ drifting: false, compared: false });
    expect(drift?.coming.status).to.equal("Unknown");
    expect(drift?.reason).to.equal(
      "TCB evaluation 18 gives no rating to compare (Unknown against today's UpToDate): TCB info TDX v2 is not TDX TCB info v3",
    );
  });

  it("an early TD_QE identity outside its window is not used: the standard one rates the QE", () => {
    const staleQe = {
      ...standard.qeIdentity,
      tcbEvaluationDataNumber: 18,
      nextUpdate: new Date("2025-06-01T00:00:00Z"),
      tcbLevels: [
        { isvSvn: 9, status: "UpToDate" as const, tcbDate: "2024-11-13T00:00:00Z", advisoryIds: [] },
      ],
    };
    const sameLevels = parseTcbInfo(deriveTcbInfo(tcbText, { evaluationDataNumber: 18 }));
    const drift = tcbDrift(input({ tcbInfo: sameLevels, qeIdentity: staleQe }));
    expect(drift).to.deep.include({ drifting: false, compared: true });
    expect(drift?.coming.status).to.equal("UpToDate");
  });
});
