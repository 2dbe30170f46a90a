import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  amdAnchors,
  generateAmdCa,
  issueAmdLeaf,
  type AmdCa,
  type AmdLeaf,
} from "../../../operator/src/attestation/simulated/amd-pki.ts";
import { buildReport, signReport } from "../../../operator/src/attestation/simulated/snp-report.ts";
import { parsePemCertificates } from "../../../operator/src/crypto/pem.ts";
import { createSnpVerifier } from "../../../operator/src/attestation/snp/index.ts";
import { FakeConfigfsTsm, type FakeTsmOptions } from "../../../operator/test/support/fakes/configfs-tsm.ts";
import { ConfigfsTsmProvider } from "./configfs-tsm.ts";
import { encodeSevCertTable, SEV_CERT_GUIDS } from "./sev-cert-table.ts";

const TDX_QUOTE = fileURLToPath(
  new URL("../../../operator/test/fixtures/tdx/dcapqvl-uptodate-v4/quote.dat", import.meta.url),
);
const TCB = { bootloader: 9, tee: 0, snp: 23, microcode: 72 };
const CHIP_ID = Uint8Array.from({ length: 64 }, (_, i) => i);

describe("configfs-tsm TEE provider (against a fake configfs tree)", function () {
  this.timeout(20_000);
  let dir: string;
  let root: string;
  let ca: AmdCa;
  let vcek: AmdLeaf;

  const der = (pem: string): Uint8Array => parsePemCertificates(pem, "test")[0] ?? new Uint8Array();

  function snpKernel(overrides: Partial<FakeTsmOptions> = {}, withCertificates = true): FakeConfigfsTsm {
    return new FakeConfigfsTsm(root, {
      provider: "sev_guest",
      makeReport: (inblob) =>
        Promise.resolve({
          outblob: signReport(
            buildReport({
              version: 3,
              cpuId: { family: 0x19, model: 0x11, stepping: 1 },
              tcb: TCB,
              chipId: CHIP_ID,
              reportData: inblob,
            }),
            vcek.leafKey,
          ),
          auxblob: withCertificates
            ? encodeSevCertTable([
                { guid: SEV_CERT_GUIDS.vcek, data: vcek.leafDer },
                { guid: SEV_CERT_GUIDS.ask, data: der(ca.intermediatePem) },
                { guid: SEV_CERT_GUIDS.ark, data: der(ca.arkPem) },
              ])
            : new Uint8Array(),
        }),
      ...overrides,
    });
  }

  before(async () => {
    ca = await generateAmdCa({ product: "Genoa" });
    vcek = await issueAmdLeaf(ca, { spl: TCB, hwId: CHIP_ID });
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-tsm-"));
    root = join(dir, "tsm", "report");
    await mkdir(root, { recursive: true });
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gets an SNP report for REPORT_DATA with the VCEK and chain from auxblob, which the verifier accepts", async () => {
    const kernel = snpKernel();
    const reportData = new Uint8Array(randomBytes(64));
    const tee = await new ConfigfsTsmProvider({ root, fs: kernel }).collect(reportData);
    expect(tee.type).to.equal("snp");
    expect(tee.vcek).to.include("BEGIN CERTIFICATE");
    expect(tee.certChain).to.equal(ca.intermediatePem + ca.arkPem);
    const verification = await createSnpVerifier({ anchors: amdAnchors(ca.arkPem) }).verify(tee, {
      now: new Date(),
      expectedReportData: reportData,
    });
    expect(verification.authentic, JSON.stringify(verification.errors)).to.equal(true);
    expect(verification.errors).to.deep.equal([]);
    expect(await readdir(root), "the entry is removed").to.deep.equal([]);
    expect(kernel.entriesMade).to.have.length(1);
    expect(kernel.entriesMade[0]).to.match(/^trustgate-\d+-[0-9a-f]{12}$/);
  });

  it("sends only the report when the host supplies no certificates (the operator fetches the VCEK)", async () => {
    const tee = await new ConfigfsTsmProvider({ root, fs: snpKernel({}, false) }).collect(new Uint8Array(64));
    expect(Object.keys(tee).sort()).to.deep.equal(["report", "type"]);
  });

  it("gets a TDX quote as base64", async () => {
    const quote = new Uint8Array(await readFile(TDX_QUOTE));
    const kernel = new FakeConfigfsTsm(root, {
      provider: "tdx_guest",
      makeReport: () => Promise.resolve({ outblob: quote }),
    });
    const tee = await new ConfigfsTsmProvider({ root, fs: kernel }).collect(new Uint8Array(64));
    expect(tee).to.deep.equal({ type: "tdx", quote: Buffer.from(quote).toString("base64") });
  });

  it("starts over in a new entry when another writer changed the entry (generation check)", async () => {
    let interference = 1;
    const kernel = snpKernel({
      beforeOutblob: async (entry, fake) => {
        if (interference-- > 0) await fake.bumpGeneration(entry);
      },
    });
    const reportData = new Uint8Array(64).fill(3);
    const tee = await new ConfigfsTsmProvider({ root, fs: kernel }).collect(reportData);
    expect(tee.type).to.equal("snp");
    expect(kernel.entriesMade).to.have.length(2);
    expect(await readdir(root)).to.deep.equal([]);
  });

  it("gives up after the configured attempts when every try races", async () => {
    const kernel = snpKernel({ beforeOutblob: (entry, fake) => fake.bumpGeneration(entry) });
    let error: unknown;
    await new ConfigfsTsmProvider({ root, fs: kernel, attempts: 2 })
      .collect(new Uint8Array(64))
      .catch((e: unknown) => (error = e));
    expect(String(error)).to.include("written by someone else during each of 2 attempts");
    expect(await readdir(root)).to.deep.equal([]);
  });

  it("explains a missing configfs-tsm, a driver error, an unknown provider and a wrong REPORT_DATA size", async () => {
    const message = (provider: ConfigfsTsmProvider, data = new Uint8Array(64)): Promise<string> =>
      provider.collect(data).then(
        () => "collected",
        (error: unknown) => (error as Error).message,
      );
    expect(await message(new ConfigfsTsmProvider({ root: join(dir, "absent"), fs: snpKernel() }))).to.include(
      "configfs-tsm is not available at",
    );
    const eio = Object.assign(new Error("EIO: i/o error"), { code: "EIO" });
    expect(
      await message(new ConfigfsTsmProvider({ root, fs: snpKernel({ readErrors: { outblob: eio } }) })),
    ).to.equal("configfs-tsm: the sev_guest driver made no report: EIO: i/o error");
    expect(await readdir(root)).to.deep.equal([]);
    const other = new FakeConfigfsTsm(root, {
      provider: "arm_cca_guest",
      makeReport: () => Promise.resolve({ outblob: new Uint8Array(8) }),
    });
    expect(await message(new ConfigfsTsmProvider({ root, fs: other }))).to.include(
      'provider "arm_cca_guest" is neither tdx_guest nor sev_guest',
    );
    expect(await message(new ConfigfsTsmProvider({ root, fs: snpKernel() }), new Uint8Array(32))).to.include(
      "REPORT_DATA must be 64 bytes",
    );
  });

  it("tolerates a kernel without auxblob", async () => {
    const enoent = Object.assign(new Error("ENOENT"), { code: "ENOENT" });
    const tee = await new ConfigfsTsmProvider({
      root,
      fs: snpKernel({ readErrors: { auxblob: enoent } }),
    }).collect(new Uint8Array(64));
    expect(tee.report).to.be.a("string");
    expect(tee.vcek).to.equal(undefined);
  });
});
