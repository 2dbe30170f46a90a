import { expect } from "chai";
import fc from "fast-check";
import { localFixture, sharedFile } from "../../../test/fixtures/snp/shared-items.ts";
import { buildReport } from "../simulated/snp-report.ts";
import { EvidenceError } from "../types.ts";
import { isChipIdMasked, parseSnpReport, REPORT_SIZE } from "./report.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function expectMalformed(bytes: Uint8Array, pattern: RegExp): void {
  try {
    parseSnpReport(bytes);
  } catch (error) {
    expect(error).to.be.instanceOf(EvidenceError);
    expect((error as EvidenceError).code).to.equal("EvidenceMalformed");
    expect((error as EvidenceError).message).to.match(pattern);
    return;
  }
  expect.fail("parse succeeded");
}

function withU32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  new DataView(copy.buffer).setUint32(offset, value, true);
  return copy;
}

describe("parseSnpReport", () => {
  const milan = localFixture("milan-v2-report.bin");

  it("decodes the go-sev-guest Milan v2 report as its manifest describes", () => {
    const r = parseSnpReport(milan);
    expect(r.version).to.equal(2);
    expect(r.guestSvn).to.equal(0);
    expect(r.policy).to.include({
      raw: "00000000000b0000",
      smt: true,
      reservedOne: true,
      debug: true,
      migrateMa: false,
    });
    expect(r.vmpl).to.equal(0);
    expect(r.signatureAlgorithm).to.equal(1);
    expect(r.platformInfo.raw).to.equal("0000000000000001");
    expect(r.signingKey).to.equal("vcek");
    expect(hex(r.reportData)).to.equal("0102030405" + "00".repeat(59));
    expect(hex(r.reportId)).to.equal("8edc638e1857c555d21f6b11bda3c8b1b5a09dba4852b4c8ee7aa2f16f22cc0a");
    for (const tcb of [r.currentTcb, r.reportedTcb, r.committedTcb, r.launchTcb]) {
      expect(tcb).to.deep.equal({ raw: "4405000000000002", bootloader: 2, tee: 0, snp: 5, microcode: 68 });
    }
    expect(r.currentVersion).to.deep.equal({ major: 1, minor: 49, build: 3 });
    expect(hex(r.chipId)).to.match(/^3ac3fe21e13fb099.*c5068b006b5d$/);
    expect(r.cpuId).to.equal(undefined);
    expect(r.product).to.equal(undefined);
    expect(r.launchMitVector).to.equal(undefined);
    expect(r.signature.r).to.have.length(48);
  });

  it("decodes the AWS VLEK v3 report: VMPL 1, VLEK, Milan CPUID, masked chip ID", () => {
    const r = parseSnpReport(sharedFile("trustee-aws-vlek-milan-v3", "test-vlek-report.bin"));
    expect(r).to.include({
      version: 3,
      vmpl: 1,
      signingKey: "vlek",
      product: "Milan",
      turinTcbLayout: false,
    });
    expect(r.cpuId).to.deep.equal({ family: 0x19, model: 0x01, stepping: r.cpuId?.stepping });
    expect(r.platformInfo).to.include({
      raw: "0000000000000027",
      smtEnabled: true,
      tsmeEnabled: true,
      aliasCheckComplete: true,
    });
    expect(r.reportedTcb).to.deep.equal({
      raw: "d918000000000004",
      bootloader: 4,
      tee: 0,
      snp: 24,
      microcode: 217,
    });
    expect(r.currentVersion).to.deep.equal({ major: 1, minor: 55, build: 29 });
    expect(isChipIdMasked(r)).to.equal(true);
  });

  it("decodes the trustee Genoa v3 report: CPUID model 0xA0 is Genoa", () => {
    const r = parseSnpReport(sharedFile("trustee-genoa-v3-e2e", "report.bin"));
    expect(r.cpuId).to.deep.equal({ family: 0x19, model: 0xa0, stepping: 2 });
    expect(r.product).to.equal("Genoa");
    expect(r.platformInfo.raw).to.equal("0000000000000025");
    expect(r.reportedTcb).to.include({ bootloader: 10, tee: 0, snp: 23, microcode: 25 });
    expect(r.currentVersion).to.deep.equal({ major: 1, minor: 55, build: 40 });
  });

  it("decodes a version 5 Turin report: FMC in TCB byte 0 and the mitigation vectors", () => {
    const bytes = buildReport({
      version: 5,
      cpuId: { family: 0x1a, model: 0x02, stepping: 1 },
      tcb: { fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 5 },
      policy: 0x3_0000 | (1 << 25) | (1 << 24),
      launchMitVector: 0x11n,
      currentMitVector: 0x1_0000_0003n,
    });
    const r = parseSnpReport(bytes);
    expect(r.product).to.equal("Turin");
    expect(r.reportedTcb).to.deep.equal({
      raw: "0500000004030201",
      fmc: 1,
      bootloader: 2,
      tee: 3,
      snp: 4,
      microcode: 5,
    });
    expect(r.launchMitVector).to.equal("0000000000000011");
    expect(r.currentMitVector).to.equal("0000000100000003");
    expect(r.policy).to.include({ pageSwapDisable: true, ciphertextHiding: true, raplDis: false });
  });

  it("rejects wrong sizes, versions, signing keys, algorithms, VMPLs and non-zero unsigned bytes", () => {
    expectMalformed(new Uint8Array(0), /expected 1184 bytes, got 0/);
    expectMalformed(milan.subarray(0, REPORT_SIZE - 1), /got 1183/);
    expectMalformed(new Uint8Array(REPORT_SIZE + 1), /got 1185/);
    for (const version of [0, 1, 4, 6, 0xffffffff])
      expectMalformed(withU32(milan, 0, version), /unsupported version/);
    for (const key of [2, 3, 4, 5, 6])
      expectMalformed(withU32(milan, 0x48, key << 2), /reserved SIGNING_KEY/);
    for (const algo of [0, 2]) expectMalformed(withU32(milan, 0x34, algo), /signature algorithm/);
    expectMalformed(withU32(milan, 0x30, 4), /VMPL 4/);
    const tail = Uint8Array.from(milan);
    tail[REPORT_SIZE - 1] = 1;
    expectMalformed(tail, /reserved bytes after the signature/);
    const wideR = Uint8Array.from(milan);
    wideR[0x2a0 + 48] = 1;
    expectMalformed(wideR, /signature R exceeds 384 bits/);
  });

  it("accepts an unsigned report (SIGNING_KEY none) at parse time; the verifier rejects it", () => {
    const r = parseSnpReport(withU32(buildReport({ signingKey: 7 }), 0x34, 0));
    expect(r.signingKey).to.equal("none");
  });

  it("property: any input either parses or throws EvidenceMalformed, never anything else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1400 }), (bytes) => {
        try {
          parseSnpReport(bytes);
        } catch (error) {
          return error instanceof EvidenceError && error.code === "EvidenceMalformed";
        }
        return bytes.length === REPORT_SIZE;
      }),
      { numRuns: 300 },
    );
  });

  it("property: random 1184-byte reports with a supported version parse or fail cleanly, and fields map to offsets", () => {
    const report = fc
      .tuple(
        fc.uint8Array({ minLength: REPORT_SIZE, maxLength: REPORT_SIZE }),
        fc.constantFrom(2, 3, 5),
        fc.boolean(),
      )
      .map(([bytes, version, clean]) => {
        const copy = withU32(bytes, 0, version);
        if (clean) {
          copy.fill(0, 0x2a0 + 48, 0x2a0 + 72);
          copy.fill(0, 0x2e8 + 48);
          copy.set([0, 0, 0, 0], 0x30);
          copy.set([1, 0, 0, 0], 0x34);
          copy[0x48] = (copy[0x48] ?? 0) & 0b11100011;
        }
        return { copy, clean };
      });
    fc.assert(
      fc.property(report, ({ copy, clean }) => {
        let parsed;
        try {
          parsed = parseSnpReport(copy);
        } catch (error) {
          return !clean && error instanceof EvidenceError && error.code === "EvidenceMalformed";
        }
        const same = (a: Uint8Array, offset: number): boolean =>
          hex(a) === hex(copy.subarray(offset, offset + a.length));
        return (
          same(parsed.reportData, 0x50) &&
          same(parsed.measurement, 0x90) &&
          same(parsed.hostData, 0xc0) &&
          same(parsed.chipId, 0x1a0) &&
          same(Uint8Array.from(parsed.signature.r).reverse(), 0x2a0) &&
          parsed.version >= 3 === (parsed.cpuId !== undefined)
        );
      }),
      { numRuns: 300 },
    );
  });

  it("property: synthetic reports round-trip their TCB in both layouts", () => {
    const svn = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(fc.boolean(), svn, svn, svn, svn, svn, (turin, fmc, bootloader, tee, snp, microcode) => {
        const cpuId = turin
          ? { family: 0x1a, model: 0x11, stepping: 0 }
          : { family: 0x19, model: 0x11, stepping: 1 };
        const r = parseSnpReport(
          buildReport({ version: 5, cpuId, tcb: { fmc, bootloader, tee, snp, microcode } }),
        );
        const expected = turin
          ? { fmc, bootloader, tee, snp, microcode }
          : { bootloader, tee, snp, microcode };
        const decoded: Partial<typeof r.reportedTcb> = { ...r.reportedTcb };
        delete decoded.raw;
        return (
          JSON.stringify(decoded) === JSON.stringify(expected) && r.product === (turin ? "Turin" : "Genoa")
        );
      }),
      { numRuns: 200 },
    );
  });
});
