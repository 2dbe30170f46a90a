import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  deriveQeIdentity,
  deriveTcbInfo,
  earlySource,
  signedBody,
  tcbSigningChain,
  withStatuses,
  type TcbInfoChange,
} from "../../../test/support/fakes/early-tcb-evaluation.ts";
import {
  check,
  codes,
  early,
  needsPceSvn13,
  outOfDateTd,
  recovery18,
  upToDateTd,
  type Resigned,
} from "../../../test/support/evidence/tdx-drift-setups.ts";
import { SHARED_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import type { CollateralSource } from "../types.ts";
import { tcbDriftCondition } from "./tcb-drift-condition.ts";

interface Case {
  name: string;
  /** Default: the UpToDate dcapqvl TD. */
  setup?: () => Resigned;
  change: TcbInfoChange;
  drifting: boolean;
  compared: boolean;
  current: string;
  coming: string;
  comingNumber: number;
  reason: string | RegExp;
  condition: { status: string; reason: string };
}

const cases: Case[] = [
  {
    name: "the TD already runs the recovered TCB: UpToDate under 17 and 18, no drift",
    change: recovery18({
      tcbDate: "2024-11-13T00:00:00Z",
      advisoryIds: ["INTEL-SA-01036"],
      sgx: { 0: 3, 1: 3, 4: 4 },
      tdx: { 2: 3 },
    }),
    drifting: false,
    compared: true,
    current: "UpToDate",
    coming: "UpToDate",
    comingNumber: 18,
    reason: "TCB evaluation 18 rates this TD UpToDate, no worse than today's UpToDate under evaluation 17",
    condition: { status: "False", reason: "NoTcbDrift" },
  },
  {
    name: "UpToDate → OutOfDate: the recovery needs PCESVN 13, the TD has 11",
    change: recovery18(needsPceSvn13),
    drifting: true,
    compared: true,
    current: "UpToDate",
    coming: "OutOfDate",
    comingNumber: 18,
    reason:
      "TCB evaluation 18 (not yet the standard) rates this TD OutOfDate (today UpToDate under evaluation 17); " +
      "new advisories INTEL-SA-01036, INTEL-SA-01079",
    condition: { status: "True", reason: "TcbDriftSoon" },
  },
  {
    name: "UpToDate → Revoked: evaluation 18 revokes the TD's level",
    change: { evaluationDataNumber: 18, levels: withStatuses({ 0: "Revoked" }) },
    drifting: true,
    compared: true,
    current: "UpToDate",
    coming: "Revoked",
    comingNumber: 18,
    reason:
      "TCB evaluation 18 (not yet the standard) rates this TD Revoked (today UpToDate under evaluation 17)",
    condition: { status: "True", reason: "TcbDriftSoon" },
  },
  {
    name: "OutOfDate → UpToDate (an improvement): no drift",
    setup: outOfDateTd,
    change: { evaluationDataNumber: 18, levels: withStatuses({ 1: "UpToDate" }) },
    drifting: false,
    compared: true,
    current: "OutOfDate",
    coming: "UpToDate",
    comingNumber: 18,
    reason: "TCB evaluation 18 rates this TD UpToDate, no worse than today's OutOfDate under evaluation 17",
    condition: { status: "False", reason: "NoTcbDrift" },
  },
  {
    name: "early TCB info of another FMSPC: refused, whatever it says",
    change: { ...recovery18(needsPceSvn13), fmspc: "00806F050000" },
    drifting: false,
    compared: false,
    current: "UpToDate",
    coming: "Unknown",
    comingNumber: 18,
    reason:
      "early TCB info is TDX for FMSPC 00806f050000/PCEID 0000, the standard one TDX for b0c06f000000/0000: not compared",
    condition: { status: "False", reason: "EarlyTcbInfoUnusable" },
  },
  {
    name: "expired early TCB info: ignored, though it would drop the TD",
    change: {
      ...recovery18(needsPceSvn13),
      issueDate: "2025-05-01T00:00:00Z",
      nextUpdate: "2025-05-31T00:00:00Z",
    },
    drifting: false,
    compared: false,
    current: "UpToDate",
    coming: "Unknown",
    comingNumber: 18,
    reason:
      "early TCB info (evaluation 18) is valid 2025-05-01T00:00:00.000Z..2025-05-31T00:00:00.000Z, " +
      "not at 2025-07-01T00:00:00.000Z: ignored",
    condition: { status: "False", reason: "EarlyTcbInfoUnusable" },
  },
  {
    name: "early evaluation 16, lower than the standard 17: nothing to warn about, though it would drop the TD",
    change: { ...recovery18(needsPceSvn13), evaluationDataNumber: 16 },
    drifting: false,
    compared: true,
    current: "UpToDate",
    coming: "OutOfDate",
    comingNumber: 16,
    reason: "Intel's early TCB evaluation 16 is not newer than the standard 17: nothing is coming",
    condition: { status: "False", reason: "NoTcbDrift" },
  },
  {
    name: "early evaluation equal to the standard 17 (before a TCB recovery early = standard): no drift",
    change: { evaluationDataNumber: 17 },
    drifting: false,
    compared: true,
    current: "UpToDate",
    coming: "UpToDate",
    comingNumber: 17,
    reason: "Intel's early TCB evaluation 17 is not newer than the standard 17: nothing is coming",
    condition: { status: "False", reason: "NoTcbDrift" },
  },
];

describe("checkTcbDrift: real TCB info re-signed by a test TCB Signing key, varied by evaluation", function () {
  this.timeout(20_000);
  for (const test of cases) {
    it(test.name, async () => {
      const setup = (test.setup ?? upToDateTd)();
      const result = await check(setup, early(setup, test.change));
      expect(result.errors).to.deep.equal([]);
      const drift = result.drift;
      if (drift === undefined) throw new Error("no drift result");
      expect(drift).to.deep.include({ drifting: test.drifting, compared: test.compared });
      expect(drift.current).to.deep.include({ status: test.current, evaluationDataNumber: 17 });
      expect(drift.coming).to.deep.include({ status: test.coming, evaluationDataNumber: test.comingNumber });
      if (typeof test.reason === "string") expect(drift.reason).to.equal(test.reason);
      else expect(drift.reason).to.match(test.reason);
      expect(tcbDriftCondition(drift)).to.deep.equal({
        type: "TcbDriftSoon",
        ...test.condition,
        message: drift.reason,
      });
    });
  }

  it("an early TD_QE identity that is newer counts: QE ISVSVN 6 falls behind a new level 8 → OutOfDate", async () => {
    const setup = upToDateTd();
    const qeIdentity = deriveQeIdentity(setup.qeIdentity, 18, [
      { isvSvn: 8, status: "UpToDate", tcbDate: "2024-11-13T00:00:00Z" },
      { isvSvn: 4, status: "OutOfDate", tcbDate: "2024-03-13T00:00:00Z" },
    ]);
    const result = await check(setup, early(setup, { evaluationDataNumber: 18 }, { qeIdentity }));
    expect(result.drift).to.deep.include({ drifting: true, compared: true });
    expect(result.drift?.coming.status).to.equal("OutOfDate");
  });

  it("dates the switch from Intel's evaluation numbers: 19 was published 2025-05-13, standard ~6 weeks later", async () => {
    const setup = upToDateTd();
    // Intel's real list (2025-06 snapshot: 19, 18, 17), re-signed because these tests trust only the test root.
    const body = readFileSync(
      join(SHARED_TDX_DIR, "automata-00806f050000-v4/collateral_2025-06/tdx_tcb_eval_numbers.json"),
      "utf8",
    );
    const text = JSON.stringify(
      (JSON.parse(body) as { tcbEvaluationDataNumbers: unknown }).tcbEvaluationDataNumbers,
    );
    const source = earlySource({
      fmspc: setup.fmspc,
      tcbInfo: signedBody(
        "tcbInfo",
        deriveTcbInfo(setup.tcbInfo, { ...recovery18(needsPceSvn13), evaluationDataNumber: 19 }),
        setup.pki.tcbSigner,
      ),
      evaluationNumbers: signedBody("tcbEvaluationDataNumbers", text, setup.pki.tcbSigner),
      issuerChain: tcbSigningChain(setup.pki),
    });
    const result = await check(setup, source);
    expect(result.errors).to.deep.equal([]);
    expect(result.drift?.switchDate?.toISOString()).to.equal("2025-06-24T00:00:00.000Z");
    expect(result.drift?.reason).to.match(
      /^TCB evaluation 19 \(expected to apply since 2025-06-24\) rates this TD OutOfDate/,
    );
  });

  it("no early TCB info: no result and no error", async () => {
    const setup = upToDateTd();
    const source = earlySource({ fmspc: setup.fmspc });
    const result = await check(setup, source);
    expect(result).to.deep.equal({ errors: [] });
    expect(source.asked).to.include("tdx-tcb-info/b0c06f000000");
  });

  it("an early source that fails: no result, the failure reported for the log", async () => {
    const setup = upToDateTd();
    const failing: CollateralSource = { get: () => Promise.reject(new Error("connection refused")) };
    const result = await check(setup, failing);
    expect(result.drift).to.equal(undefined);
    expect(codes(result)).to.deep.equal(["CollateralUnavailable"]);
  });

  it("standard collateral outside its window: no result (the TD is not rated today)", async () => {
    const setup = { ...upToDateTd(), now: new Date("2025-08-01T00:00:00Z") };
    const result = await check(setup, early(setup, recovery18(needsPceSvn13)));
    expect(result.drift).to.equal(undefined);
    expect(codes(result)).to.include("CollateralExpired");
  });
});
