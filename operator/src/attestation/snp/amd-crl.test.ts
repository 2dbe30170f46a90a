import { expect } from "chai";
import { generateAmdCa, issueAmdCrl, issueAmdLeaf, amdAnchors } from "../simulated/amd-pki.ts";
import { buildReport, signReport } from "../simulated/snp-report.ts";
import type { CollateralSource, TeeVerification } from "../types.ts";
import { SNP_CRL_KIND } from "./kds.ts";
import { createSnpVerifier } from "./verifier.ts";

const NOW = new Date("2030-01-01T00:00:00Z");
const TCB = { bootloader: 1, tee: 0, snp: 8, microcode: 100 };
const CHIP_ID = Uint8Array.from({ length: 64 }, (_, i) => i + 1);

/** A collateral source that serves one CRL (as KDS does at /vcek/v1/{product}/crl). */
function crlSource(crl: Uint8Array | undefined, asked: string[] = []): CollateralSource {
  return {
    get: (kind, key) => {
      asked.push(`${kind} ${key}`);
      return Promise.resolve(kind === SNP_CRL_KIND ? crl : undefined);
    },
  };
}

describe("AMD's CRL of ASKs and ASVKs (KDS crl)", () => {
  let ca: Awaited<ReturnType<typeof generateAmdCa>>;
  let evidence: { type: "snp"; report: string; vcek: string; certChain: string };

  async function verify(collateral?: CollateralSource): Promise<TeeVerification> {
    return createSnpVerifier({ anchors: amdAnchors(ca.arkPem) }).verify(evidence, {
      now: NOW,
      ...(collateral === undefined ? {} : { collateral }),
    });
  }

  before(async () => {
    ca = await generateAmdCa({ product: "Milan" });
    const leaf = await issueAmdLeaf(ca, { spl: TCB, hwId: CHIP_ID });
    const report = signReport(buildReport({ version: 3, tcb: TCB, chipId: CHIP_ID }), leaf.leafKey);
    evidence = {
      type: "snp",
      report: Buffer.from(report).toString("base64"),
      vcek: leaf.leafPem,
      certChain: ca.intermediatePem,
    };
  });

  it("asks the collateral source for the product's VCEK CRL and accepts a current CRL that does not list the ASK", async () => {
    const asked: string[] = [];
    const v = await verify(crlSource(await issueAmdCrl(ca, { revokedSerials: [99] }), asked));
    expect(v.authentic, JSON.stringify(v.errors)).to.equal(true);
    expect(asked).to.include("snp-crl Milan/vcek");
  });

  const refusals: [string, () => Promise<Uint8Array>, string][] = [
    [
      "a revoked ASK (serial 2, the one that issued the VCEK)",
      () => issueAmdCrl(ca, { revokedSerials: [2] }),
      "CertificateRevoked",
    ],
    [
      "a CRL signed by another ARK",
      async () => issueAmdCrl(await generateAmdCa({ product: "Milan" }), { revokedSerials: [] }),
      "SignatureInvalid",
    ],
    [
      "a CRL past its nextUpdate (a stale CRL could hide a revocation)",
      () =>
        issueAmdCrl(ca, {
          thisUpdate: new Date("2024-01-01T00:00:00Z"),
          nextUpdate: new Date("2025-01-01T00:00:00Z"),
        }),
      "CollateralExpired",
    ],
    ["bytes that are no CRL", () => Promise.resolve(new Uint8Array([1, 2, 3])), "EvidenceMalformed"],
  ];
  for (const [name, crl, code] of refusals) {
    it(`is not authentic for ${name}: ${code}`, async () => {
      const v = await verify(crlSource(await crl()));
      expect(v.authentic).to.equal(false);
      expect(v.errors.map((e) => e.code)).to.include(code);
    });
  }

  it("checks nothing without a collateral source or without a CRL in it", async () => {
    expect((await verify()).authentic).to.equal(true);
    expect((await verify(crlSource(undefined))).authentic).to.equal(true);
  });

  it("keeps a verified CRL by its bytes: a changed CRL is decoded and verified again, the window checked each time", async () => {
    const good = await issueAmdCrl(ca, {
      revokedSerials: [99],
      thisUpdate: new Date("2029-12-01T00:00:00Z"),
      nextUpdate: new Date("2030-02-01T00:00:00Z"),
    });
    expect((await verify(crlSource(good))).authentic).to.equal(true);
    // Same ARK, new CRL that revokes the ASK: not the memo's answer.
    const revoking = await issueAmdCrl(ca, { revokedSerials: [2] });
    expect((await verify(crlSource(revoking))).errors.map((e) => e.code)).to.include("CertificateRevoked");
    // The good CRL's bytes under another ARK's anchors: not authentic (the ARK is part of the key).
    const other = await generateAmdCa({ product: "Milan" });
    const otherVerdict = await createSnpVerifier({ anchors: amdAnchors(other.arkPem) }).verify(evidence, {
      now: NOW,
      collateral: crlSource(good),
    });
    expect(otherVerdict.authentic).to.equal(false);
    // A cached CRL still expires: the same bytes checked after their nextUpdate.
    const late = await createSnpVerifier({ anchors: amdAnchors(ca.arkPem) }).verify(evidence, {
      now: new Date("2030-03-01T00:00:00Z"),
      collateral: crlSource(good),
    });
    expect(late.errors.map((e) => e.code)).to.include("CollateralExpired");
    expect((await verify(crlSource(good))).authentic).to.equal(true);
  });
});
