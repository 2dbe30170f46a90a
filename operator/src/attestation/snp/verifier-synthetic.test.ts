import { expect } from "chai";
import { makeFakeAmdPki, type FakeAmdPki, type FakePkiOptions } from "../simulated/amd-pki.ts";
import { buildReport, signReport, type SyntheticReportSpec } from "../simulated/snp-report.ts";
import type { TeeVerification } from "../types.ts";
import { createSnpVerifier, snpVerifier } from "./verifier.ts";

const NOW = { now: new Date("2030-01-01T00:00:00Z") };
const TURIN_CPU = { family: 0x1a, model: 0x02, stepping: 0 };
const TURIN_TCB = { fmc: 2, bootloader: 3, tee: 1, snp: 4, microcode: 9 };
const CHIP_ID = Uint8Array.from({ length: 64 }, (_, i) => i + 1);

const codes = (v: TeeVerification): string[] => v.errors.map((e) => e.code);

async function verifySynthetic(
  pki: FakeAmdPki,
  spec: SyntheticReportSpec,
  kind: "vcek" | "vlek" = "vcek",
): Promise<TeeVerification> {
  const report = signReport(buildReport(spec), pki.leafKey);
  const evidence = {
    type: "snp" as const,
    report: Buffer.from(report).toString("base64"),
    [kind]: pki.leafPem,
    certChain: pki.intermediatePem,
  };
  return createSnpVerifier({ anchors: pki.anchors }).verify(evidence, NOW);
}

describe("snpVerifier on synthetic reports from a fake AMD hierarchy", () => {
  let turin: FakeAmdPki;
  let milan: FakeAmdPki;
  const turinPki: FakePkiOptions = { product: "Turin", spl: TURIN_TCB, hwId: CHIP_ID.subarray(0, 8) };
  const milanTcb = { bootloader: 1, tee: 0, snp: 8, microcode: 100 };

  before(async () => {
    turin = await makeFakeAmdPki(turinPki);
    milan = await makeFakeAmdPki({ product: "Milan", spl: milanTcb, hwId: CHIP_ID });
  });

  it("accepts a Turin v5 report: Turin TCB layout, fmcSPL, 8-byte hwID = first 8 bytes of CHIP_ID", async () => {
    const v = await verifySynthetic(turin, {
      version: 5,
      cpuId: TURIN_CPU,
      tcb: TURIN_TCB,
      chipId: CHIP_ID,
      currentMitVector: 5n,
    });
    expect(v.authentic, JSON.stringify(v.errors)).to.equal(true);
    expect(v.claims).to.include({ product: "Turin", version: 5, currentMitVector: "0000000000000005" });
    expect(v.claims["reportedTcb"]).to.deep.equal({ raw: "0900000004010302", ...TURIN_TCB });
  });

  it("is never trusted by the production verifier", async () => {
    const report = signReport(
      buildReport({ version: 5, cpuId: TURIN_CPU, tcb: TURIN_TCB, chipId: CHIP_ID }),
      turin.leafKey,
    );
    const evidence = {
      type: "snp" as const,
      report: Buffer.from(report).toString("base64"),
      vcek: turin.leafPem,
      certChain: turin.intermediatePem + turin.arkPem,
    };
    const v = await snpVerifier.verify(evidence, NOW);
    expect(v.authentic).to.equal(false);
    expect(codes(v)).to.deep.equal(["ChainInvalid"]);
  });

  it("rejects a TCB that differs from the certificate's SPLs, naming each component", async () => {
    const v = await verifySynthetic(turin, {
      version: 5,
      cpuId: TURIN_CPU,
      tcb: { ...TURIN_TCB, fmc: 3, microcode: 8 },
      chipId: CHIP_ID,
    });
    expect(v.authentic).to.equal(false);
    expect(v.errors.map((e) => e.message)).to.deep.equal([
      "certificate microcode SPL 9 differs from REPORTED_TCB 8",
      "certificate fmc SPL 2 differs from REPORTED_TCB 3",
    ]);
  });

  it("rejects a CHIP_ID that differs from the hwID, but skips the check when CHIP_ID is masked", async () => {
    const other = Uint8Array.from(CHIP_ID).fill(0xee, 0, 1);
    const wrong = await verifySynthetic(milan, { tcb: milanTcb, chipId: other });
    expect(wrong.errors.map((e) => e.message)).to.deep.equal(["VCEK hwID differs from the report's CHIP_ID"]);
    const masked = await verifySynthetic(milan, { tcb: milanTcb, chipId: new Uint8Array(64) });
    expect(masked.authentic, JSON.stringify(masked.errors)).to.equal(true);
    expect(masked.claims["chipIdMasked"]).to.equal(true);
  });

  it("rejects a report whose CPUID is another product than the chain's, and a v2 report under a Turin chain", async () => {
    const genoaCpu = await verifySynthetic(milan, {
      tcb: milanTcb,
      chipId: CHIP_ID,
      cpuId: { family: 0x19, model: 0x11, stepping: 1 },
    });
    expect(genoaCpu.errors[0]?.message).to.match(/family 0x19 model 0x11 is not a Milan part/);
    const v2 = await verifySynthetic(turin, { version: 2, tcb: TURIN_TCB, chipId: CHIP_ID });
    expect(v2.errors[0]?.message).to.match(/version 2 report cannot come from a Turin chip/);
  });

  it("rejects an unsigned report (SIGNING_KEY none) and a key kind that contradicts SIGNING_KEY", async () => {
    const unsigned = await verifySynthetic(milan, { tcb: milanTcb, chipId: CHIP_ID, signingKey: 7 });
    expect(codes(unsigned)).to.deep.equal(["SignatureInvalid"]);
    const vlekClaimed = await verifySynthetic(
      milan,
      { tcb: milanTcb, chipId: CHIP_ID, signingKey: 1 },
      "vlek",
    );
    expect(vlekClaimed.errors[0]?.message).to.match(/SIGNING_KEY is vlek but the certificate is a vcek/);
  });

  it("accepts a VLEK-signed report without hwID and rejects the wrong signing key", async () => {
    const vlek = await makeFakeAmdPki({ product: "Genoa", kind: "vlek", spl: milanTcb });
    const genoaCpu = { family: 0x19, model: 0x11, stepping: 1 };
    const ok = await verifySynthetic(
      vlek,
      { tcb: milanTcb, cpuId: genoaCpu, signingKey: 1, chipId: new Uint8Array(64) },
      "vlek",
    );
    expect(ok.authentic, JSON.stringify(ok.errors)).to.equal(true);
    expect(ok.claims).to.include({ signingKey: "vlek", product: "Genoa" });
    const report = signReport(buildReport({ tcb: milanTcb, cpuId: genoaCpu, signingKey: 1 }), milan.leafKey);
    const evidence = {
      type: "snp" as const,
      report: Buffer.from(report).toString("base64"),
      vlek: vlek.leafPem,
      certChain: vlek.intermediatePem,
    };
    const forged = await createSnpVerifier({ anchors: vlek.anchors }).verify(evidence, NOW);
    expect(codes(forged)).to.deep.equal(["SignatureInvalid"]);
  });
});
