import { expect } from "chai";
import {
  localFixture,
  SHARED_REPORT_ITEMS,
  sharedFile,
  sharedItemDir,
} from "../../../test/fixtures/snp/shared-items.ts";
import type { ClaimValue, CollateralSource, TeeEvidence, TeeVerification } from "../types.ts";
import { snpTeeFromItem } from "../../../test/support/evidence/snp-bundle-from-item.ts";
import { SNP_VCEK_KIND } from "./kds.ts";
import { derToPem } from "../../crypto/pem.ts";
import { createSnpVerifier, snpVerifier } from "./verifier.ts";

const codes = (v: TeeVerification): string[] => v.errors.map((e) => e.code);
const claim = (v: TeeVerification, ...path: string[]): ClaimValue | undefined =>
  path.reduce<ClaimValue | undefined>(
    (value, key) => (typeof value === "object" && !Array.isArray(value) ? value[key] : undefined),
    v.claims,
  );

const milanEvidence = (): TeeEvidence => ({
  type: "snp",
  report: Buffer.from(localFixture("milan-v2-report.bin")).toString("base64"),
  vcek: derToPem(localFixture("milan-v2-vcek.der")),
});
const MILAN_TIME = { now: new Date("2024-01-01T00:00:00Z") };

describe("snpVerifier", () => {
  for (const { item, verdicts, facts } of SHARED_REPORT_ITEMS) {
    describe(`shared item ${item}`, () => {
      const evidence = snpTeeFromItem(sharedItemDir(item));

      for (const { at, authentic, code } of verdicts) {
        it(`is ${authentic ? "authentic" : `rejected with ${code ?? "?"}`} at ${at}`, async () => {
          const v = await snpVerifier.verify(evidence, { now: new Date(at) });
          expect(v.authentic, JSON.stringify(v.errors)).to.equal(authentic);
          expect(v.tcbStatus).to.equal(authentic ? "UpToDate" : "Unknown");
          if (authentic) expect(v.errors).to.deep.equal([]);
          else expect(codes(v)).to.deep.equal([code]);
        });
      }

      it("yields the claims its manifest lists", async () => {
        const v = await snpVerifier.verify(evidence, { now: new Date(verdicts[0]?.at ?? "") });
        expect(v.type).to.equal("snp");
        expect(v.advisoryIds).to.deep.equal([]);
        expect(v.claims).to.include({
          version: facts.version,
          product: facts.product,
          signingKey: facts.signingKey,
          vmpl: facts.vmpl,
          measurement: facts.measurement,
          chipIdMasked: facts.chipIdMasked,
        });
        expect(claim(v, "policy", "debug")).to.equal(facts.debug);
        expect(claim(v, "reportedTcb")).to.include(facts.reportedTcb);
        expect(claim(v, "reportData"))
          .to.be.a("string")
          .and.match(new RegExp(`^${facts.reportDataPrefix}`));
        for (const key of [
          "hostData",
          "chipId",
          "currentTcb",
          "committedTcb",
          "launchTcb",
          "platformInfo",
          "reportId",
        ]) {
          expect(v.claims).to.have.property(key);
        }
      });
    });
  }

  it("virtee-turin-vcek-only has no report, so it yields no bundle (its chain is tested in endorsement-chain)", () => {
    expect(() => snpTeeFromItem(sharedItemDir("virtee-turin-vcek-only"))).to.throw(/no report/);
  });

  it("adds the certificate's productName and a VLEK's csp_id to the claims", async () => {
    const milan = await snpVerifier.verify(milanEvidence(), MILAN_TIME);
    expect(milan.claims).to.include({ productName: "Milan-B0", product: "Milan" });
    const aws = snpTeeFromItem(sharedItemDir("trustee-aws-vlek-milan-v3"));
    const v = await snpVerifier.verify(aws, { now: new Date("2025-06-01T00:00:00Z") });
    expect(v.claims).to.include({ productName: "Milan", cspId: "CN=cc-us-east-2.amazonaws.com" });
  });

  it("puts the AWS VLEK in tee.vlek with its ASVK chain", () => {
    const tee = snpTeeFromItem(sharedItemDir("trustee-aws-vlek-milan-v3"));
    expect(tee.vlek).to.match(/^-----BEGIN CERTIFICATE-----/);
    expect(tee.vcek).to.equal(undefined);
    expect(tee.certChain).to.include("-----BEGIN CERTIFICATE-----");
  });

  it("enforces the binding only when expectedReportData is given; a mismatch is BindingMismatch", async () => {
    const expected = Uint8Array.from([1, 2, 3, 4, 5, ...new Uint8Array(59)]);
    const ok = await snpVerifier.verify(milanEvidence(), { ...MILAN_TIME, expectedReportData: expected });
    expect(ok.errors).to.deep.equal([]);
    const wrong = await snpVerifier.verify(milanEvidence(), {
      ...MILAN_TIME,
      expectedReportData: new Uint8Array(64),
    });
    expect(codes(wrong)).to.deep.equal(["BindingMismatch"]);
    expect(wrong.authentic).to.equal(true);
  });

  it("gets the VCEK from a collateral source when the evidence has none", async () => {
    const asked: string[] = [];
    const source: CollateralSource = {
      get(kind, key) {
        asked.push(`${kind} ${key}`);
        return Promise.resolve(kind === SNP_VCEK_KIND ? localFixture("milan-v2-vcek.der") : undefined);
      },
    };
    const withoutVcek = milanEvidence();
    delete withoutVcek.vcek;
    const v = await createSnpVerifier().verify(withoutVcek, { ...MILAN_TIME, collateral: source });
    expect(v.authentic, JSON.stringify(v.errors)).to.equal(true);
    expect(asked[0]).to.match(
      /^snp-vcek Milan\/3ac3fe21e13fb099[0-9a-f]{112}\?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68$/,
    );

    const missing = await createSnpVerifier().verify(withoutVcek, MILAN_TIME);
    expect(codes(missing)).to.deep.equal(["CollateralMissing"]);
  });

  it("rejects a report with another chip's VCEK", async () => {
    const evidence = { ...milanEvidence(), vcek: derToPem(sharedFile("trustee-genoa-v3-e2e", "vcek.der")) };
    const v = await snpVerifier.verify(evidence, { now: new Date("2026-01-01T00:00:00Z") });
    expect(v.authentic).to.equal(false);
    expect(codes(v)).to.include("ChainInvalid");
  });

  it("a VCEK decoded and trusted for one report vouches for no other report or certificate text", async () => {
    expect((await snpVerifier.verify(milanEvidence(), MILAN_TIME)).authentic).to.equal(true);
    const report = Buffer.from(localFixture("milan-v2-report.bin"));
    report[0x50] = (report[0x50] ?? 0) ^ 1; // REPORT_DATA, inside the signed bytes
    const tampered = { ...milanEvidence(), report: report.toString("base64") };
    expect(codes(await snpVerifier.verify(tampered, MILAN_TIME))).to.deep.equal(["SignatureInvalid"]);
    const other = { ...milanEvidence(), vcek: derToPem(sharedFile("trustee-genoa-v3-e2e", "vcek.der")) };
    const later = { now: new Date("2026-01-01T00:00:00Z") }; // inside the Genoa VCEK's validity
    expect(codes(await snpVerifier.verify(other, later))).to.include("ChainInvalid");
    const broken = { ...milanEvidence(), vcek: milanEvidence().vcek?.replace("MII", "MI!") };
    for (let i = 0; i < 2; i++) {
      expect(codes(await snpVerifier.verify(broken, MILAN_TIME))).to.deep.equal(["EvidenceMalformed"]);
    }
  });

  it("rejects a VCEK-signed report that comes with only a VLEK", async () => {
    const evidence = {
      ...milanEvidence(),
      vlek: derToPem(sharedFile("trustee-aws-vlek-milan-v3", "test-vlek.der")),
    };
    delete evidence.vcek;
    const v = await snpVerifier.verify(evidence, { now: new Date("2025-06-01T00:00:00Z") });
    expect(v.authentic).to.equal(false);
    expect(v.errors[0]?.message).to.match(/carries a vlek, but SIGNING_KEY says vcek/);
  });

  it("never throws: bad input becomes an error entry", async () => {
    const cases: [unknown, string][] = [
      [{ type: "tdx", quote: "AAAA" }, "UnsupportedTee"],
      [{ type: "snp" }, "EvidenceMalformed"],
      [{ type: "snp", report: "not base64!" }, "EvidenceMalformed"],
      [{ type: "snp", report: "AAAA" }, "EvidenceMalformed"],
      [{ ...milanEvidence(), vcek: "garbage" }, "EvidenceMalformed"],
      [{ ...milanEvidence(), vcek: derToPem(Uint8Array.from([0x30, 0x00])) }, "EvidenceMalformed"],
      [
        { ...milanEvidence(), certChain: "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----" },
        "EvidenceMalformed",
      ],
      [null, "EvidenceMalformed"],
    ];
    for (const [evidence, code] of cases) {
      const v = await snpVerifier.verify(evidence as TeeEvidence, MILAN_TIME);
      expect(v.authentic).to.equal(false);
      expect(codes(v), JSON.stringify(evidence)).to.deep.equal([code]);
    }
    const noTime = await snpVerifier.verify(milanEvidence(), { now: new Date("nope") });
    expect(noTime.authentic).to.equal(false);
  });
});
