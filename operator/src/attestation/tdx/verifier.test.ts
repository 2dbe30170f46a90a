import { expect } from "chai";
import fc from "fast-check";
import { join } from "node:path";
import { MANIFEST_VERDICTS, SHARED_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import type { TeeEvidence } from "../types.ts";
import {
  tdxBundleFromItem,
  tdxTeeFromItem,
  withoutCollateral,
} from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { VerificationMemo } from "./verification-memo.ts";
import { createTdxVerifier, tdxVerifier } from "./verifier.ts";

const item = (name: string, snapshot?: string): TeeEvidence =>
  tdxTeeFromItem(join(SHARED_TDX_DIR, name), snapshot === undefined ? {} : { snapshot });

describe("tdxVerifier on the shared evidence (MANIFEST verdicts)", () => {
  for (const expected of MANIFEST_VERDICTS) {
    const label = `${expected.item}${expected.snapshot === undefined ? "" : ` ${expected.snapshot}`}`;
    it(`${label} at ${expected.at}: ${expected.tcbStatus} (${expected.note})`, async () => {
      const result = await tdxVerifier.verify(item(expected.item, expected.snapshot), {
        now: new Date(expected.at),
      });
      expect(result.errors.map((error) => error.code)).to.have.members(expected.errorCodes);
      expect(result.authentic).to.equal(expected.authentic);
      expect(result.tcbStatus).to.equal(expected.tcbStatus);
      expect(result.advisoryIds).to.deep.equal(expected.advisoryIds);
    });
  }

  it("google-spr-e4-v4 claims match the manifest's quote facts", async () => {
    const { claims } = await tdxVerifier.verify(item("google-spr-e4-v4"), {
      now: new Date("2023-07-01T01:00:00Z"),
    });
    expect(claims).to.include({
      quoteVersion: 4,
      mrTd: "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb",
      rtmr0:
        "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a",
      rtmr3: "00".repeat(48),
      teeTcbSvn: "03000400000000000000000000000000",
      tdAttributes: "0000004000000000",
      xfam: "e71a060000000000",
      fmspc: "50806f000000",
      pceId: "0000",
      debug: false,
      qeSvn: 4,
      tcbEvaluationDataNumber: 15,
    });
    expect(claims.reportData).to.match(/^6c62dec1b8191749a31dab490be532a3/);
  });

  it("google-v5-sample claims carry the TDX 1.5 fields", async () => {
    const { claims } = await tdxVerifier.verify(item("google-v5-sample"), {
      now: new Date("2026-02-03T01:00:00Z"),
    });
    expect(claims).to.include({
      quoteVersion: 5,
      teeTcbSvn: "0b010400000000000000000000000000",
      teeTcbSvn2: "0d010400000000000000000000000000",
      fmspc: "90c06f000000",
      qeSvn: 7,
    });
    expect(claims.reportData).to.match(/^945eaacf5abc1f719d8666a942fda03d/);
  });

  it("the automata quote's collateral snapshots reach the same verdict inside each window", async () => {
    const result = await tdxVerifier.verify(item("automata-00806f050000-v4", "2025-10"), {
      now: new Date("2025-11-01T00:00:00Z"),
    });
    expect(result.claims).to.include({
      mrTd: "935be7742dd89c6a4df6dba8353d89041ae0f052beef993b1e7f4524d3bc57650df20e5582158352e1240b3f1fed55d8",
      teeTcbSvn: "04010700000000000000000000000000",
      tcbDate: "2023-08-09T00:00:00Z",
      tdxModuleTcbStatus: "UpToDate",
      qeTcbStatus: "UpToDate",
    });
  });

  it("mixing the automata 2025-06 TCB info with the 2025-10 CRL has no common window: expired", async () => {
    const june = item("automata-00806f050000-v4", "2025-06");
    const october = item("automata-00806f050000-v4", "2025-10");
    const mixed: TeeEvidence = {
      ...june,
      collateral: { ...june.collateral, pckCrl: october.collateral?.pckCrl },
    };
    for (const at of ["2025-06-20T00:00:00Z", "2025-10-20T00:00:00Z"]) {
      const result = await tdxVerifier.verify(mixed, { now: new Date(at) });
      expect(result.tcbStatus, at).to.equal("Unknown");
      expect(
        result.errors.map((error) => error.code),
        at,
      ).to.include("CollateralExpired");
    }
  });

  it("the GCP quote binds the all-zero nonce (nonce.dat); another expected value is a BindingMismatch", async () => {
    const tee = item("google-gcp-cos113-ccel");
    const now = new Date("2025-06-20T00:00:00Z");
    const bound = await tdxVerifier.verify(tee, { now, expectedReportData: new Uint8Array(64) });
    expect(bound.errors).to.deep.equal([]);
    const other = new Uint8Array(64).fill(1);
    const mismatch = await tdxVerifier.verify(tee, { now, expectedReportData: other });
    expect(mismatch.errors.map((error) => error.code)).to.deep.equal(["BindingMismatch"]);
    expect(mismatch.authentic).to.equal(true);
  });

  it("refuses SEV-SNP evidence and bundles without a quote", async () => {
    const now = new Date("2025-07-01T00:00:00Z");
    const snp = await tdxVerifier.verify({ type: "snp", report: "AAAA" }, { now });
    expect(snp.errors.map((error) => error.code)).to.deep.equal(["UnsupportedTee"]);
    const empty = await tdxVerifier.verify({ type: "tdx" }, { now });
    expect(empty.errors.map((error) => error.code)).to.deep.equal(["EvidenceMalformed"]);
    const notBase64 = await tdxVerifier.verify({ type: "tdx", quote: "not base64!" }, { now });
    expect(notBase64.errors.map((error) => error.code)).to.deep.equal(["EvidenceMalformed"]);
  });

  it("without collateral the quote is authentic but its TCB status Unknown (CollateralMissing)", async () => {
    const bare = withoutCollateral(item("dcapqvl-uptodate-v4"));
    const result = await tdxVerifier.verify(bare, { now: new Date("2025-07-01T00:00:00Z") });
    expect(result.authentic).to.equal(true);
    expect(result.tcbStatus).to.equal("Unknown");
    expect(new Set(result.errors.map((error) => error.code))).to.deep.equal(new Set(["CollateralMissing"]));
    expect(result.errors).to.have.length(4);
  });

  it("tdxBundleFromItem wraps the item in an evidence bundle with the caller's binding", () => {
    const publicKey = { kty: "EC" as const, crv: "P-256" as const, x: "x", y: "y" };
    const bundle = tdxBundleFromItem(join(SHARED_TDX_DIR, "google-gcp-cos113-ccel"), {
      nonce: "00".repeat(32),
      publicKey,
    });
    expect(bundle.tee.type).to.equal("tdx");
    expect(bundle.tee.eventLog).to.be.a("string");
    expect(Object.keys(bundle.tee.collateral ?? {}).sort()).to.deep.equal([
      "pckCrl",
      "qeIdentity",
      "qeIdentitySignature",
      "rootCaCrl",
      "tcbInfo",
      "tcbInfoSignature",
    ]);
    expect(bundle.publicKey).to.equal(publicKey);
  });

  it("never throws and never calls arbitrary input authentic (fast-check)", async () => {
    const collateral = item("dcapqvl-uptodate-v4").collateral;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.boolean(), async (bytes, withCollateral) => {
        const tee: TeeEvidence = { type: "tdx", quote: Buffer.from(bytes).toString("base64") };
        if (withCollateral) tee.collateral = collateral;
        const result = await tdxVerifier.verify(tee, { now: new Date("2025-07-01T00:00:00Z") });
        expect(result.authentic).to.equal(false);
        expect(result.errors).to.not.deep.equal([]);
      }),
      { numRuns: 300 },
    );
  });

  it("platforms under one PCK CA share the verified collateral: one memo entry per PCK chain, one per collateral", async () => {
    const memo = new VerificationMemo();
    const verifier = createTdxVerifier({ memo });
    const gcp = item("google-gcp-cos113-ccel");
    const automata = { ...item("automata-00806f050000-v4", "2025-06"), collateral: gcp.collateral };
    const now = new Date("2025-06-20T00:00:00Z");
    expect((await verifier.verify(gcp, { now })).tcbStatus).to.equal("UpToDate");
    expect(memo.size).to.equal(2);
    expect((await verifier.verify(automata, { now })).tcbStatus).to.equal("OutOfDate");
    expect(memo.size).to.equal(3);
  });
});
