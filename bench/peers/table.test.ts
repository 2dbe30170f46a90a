import { expect } from "chai";
import {
  compareVerdicts,
  expectedVerdict,
  median,
  renderAgreement,
  renderRates,
  teeVerdict,
  type Verdict,
} from "./table.ts";

describe("bench-peers table", () => {
  describe("teeVerdict and expectedVerdict", () => {
    const cases: [string, { authentic: boolean; errors: string[]; tcbStatus: string }, Verdict][] = [
      ["authentic, no errors, UpToDate", { authentic: true, errors: [], tcbStatus: "UpToDate" }, "accept"],
      ["authentic but OutOfDate", { authentic: true, errors: [], tcbStatus: "OutOfDate" }, "reject"],
      [
        "UpToDate with an error",
        { authentic: true, errors: ["CollateralExpired"], tcbStatus: "UpToDate" },
        "reject",
      ],
      ["not authentic", { authentic: false, errors: [], tcbStatus: "UpToDate" }, "reject"],
    ];
    for (const [name, verification, want] of cases) {
      it(`${name} → ${want}`, () => {
        expect(teeVerdict(verification)).to.equal(want);
        const manifest = {
          authentic: verification.authentic,
          errorCodes: verification.errors,
          tcbStatus: verification.tcbStatus,
        };
        expect(expectedVerdict(manifest)).to.equal(want);
      });
    }
    it("a manifest without a TCB status (SEV-SNP) is accepted when authentic and error-free", () => {
      expect(expectedVerdict({ authentic: true, errorCodes: [] })).to.equal("accept");
      expect(expectedVerdict({ authentic: true, errorCodes: ["CertificateExpired"] })).to.equal("reject");
    });
  });

  describe("compareVerdicts", () => {
    const expected = new Map<string, Verdict>([
      ["a", "accept"],
      ["b", "accept"],
      ["c", "reject"],
      ["d", "reject"],
    ]);
    const trustgate = new Map<string, Verdict>([
      ["a", "accept"],
      ["b", "accept"],
      ["c", "accept"],
      ["d", "reject"],
    ]);
    const rows = compareVerdicts(expected, trustgate, [
      { name: "a", verdict: "accept" },
      { name: "b", verdict: "reject", error: "FMSPC mismatch" },
      { name: "c", verdict: "reject", error: "expired" },
    ]);
    const byName = new Map(rows.map((r) => [r.name, r]));

    it("agrees when both verdicts are equal and both are right", () => {
      expect(byName.get("a")).to.include({ agree: true, right: "both" });
    });
    it("differs with the peer's error when only trustgate is right", () => {
      expect(byName.get("b")).to.include({
        agree: false,
        right: "trustgate",
        peer: "reject",
        peerError: "FMSPC mismatch",
      });
    });
    it("credits the peer when only the peer is right", () => {
      expect(byName.get("c")).to.include({ agree: false, right: "peer", trustgate: "accept" });
    });
    it("marks an item the peer did not report as missing, not as agreement", () => {
      expect(byName.get("d")).to.include({ peer: "missing", agree: false, right: "trustgate" });
    });
    it("refuses an item trustgate has no verdict for", () => {
      expect(() => compareVerdicts(new Map([["x", "accept"]]), new Map(), [])).to.throw(/no verdict for x/);
    });
    it("renders counts and the peer's error for each difference", () => {
      const lines = renderAgreement("peer v1", rows);
      expect(lines[0]).to.equal(
        "peer v1: 1/4 verdicts agree; right per manifest: trustgate 3/4, peer v1 2/4",
      );
      expect(lines.some((l) => l.includes("b: peer v1 said: FMSPC mismatch"))).to.equal(true);
      expect(lines.some((l) => l.includes("c: peer v1 said: expired"))).to.equal(true);
      expect(lines.some((l) => l.includes("a: peer v1 said"))).to.equal(false);
      expect(
        lines.some((l) => /^ {2}c\s+reject\s+accept\s+reject\s+differ \(peer right\)$/.test(l)),
      ).to.equal(true);
    });
  });

  describe("rates", () => {
    it("median of odd and even counts, NaN when empty", () => {
      expect(median([3, 1, 2])).to.equal(2);
      expect(median([4, 1, 3, 2])).to.equal(2.5);
      expect(median([])).to.be.NaN;
    });
    it("renders medians, the ratio trustgate/peer and the rounds both sides have", () => {
      const [header, row] = renderRates([
        {
          what: "TDX",
          unit: "quotes/s",
          peer: "go-tdx-guest",
          trustgate: [5000, 6000, 5500],
          peerRates: [600, 500, 550],
        },
      ]);
      expect(header).to.match(/^what\s+trustgate\s+peer\s+peer rate\s+trustgate\/peer\s+rounds$/);
      expect(row).to.match(/^TDX\s+5,500 quotes\/s\s+go-tdx-guest\s+550 quotes\/s\s+10\.0x\s+3$/);
    });
    it("prints n/a for a ratio without peer rates", () => {
      const [, row] = renderRates([
        { what: "SNP", unit: "reports/s", peer: "p", trustgate: [1], peerRates: [] },
      ]);
      expect(row).to.match(/n\/a reports\/s\s+n\/a\s+0$/);
    });
  });
});
