import { expect } from "chai";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { parseTdxQuote } from "../tdx/quote.ts";
import type { TdxTrustAnchors } from "../tdx/trust-anchors.ts";
import { createTdxVerifier, tdxVerifier } from "../tdx/verifier.ts";
import type { CollateralSource, TeeEvidence, TeeVerification } from "../types.ts";
import { simulatedCollateralSource } from "./collateral-routes.ts";
import { issuePckLeaf, pemChain, type IntelCa } from "./intel-pki.ts";
import { generateSimPki, type SimPki } from "./sim-pki.ts";
import { SIMULATED_TDX_FMSPC, SIMULATED_TDX_MRTD, SimulatedTdxTee } from "./simulated-tdx.ts";
import { SIMULATED_TDX_PCK_TCB } from "./tdx-platform.ts";
import { signTdxQuote } from "./tdx-quote.ts";

const NOW = new Date();
const codes = (result: TeeVerification): string[] => [...new Set(result.errors.map((e) => e.code))].sort();
const quoteOf = (tee: TeeEvidence) => parseTdxQuote(Buffer.from(tee.quote ?? "", "base64"));

/** The quote's header, body and QE report signed again, by these keys and with this chain. */
function resigned(
  tee: TeeEvidence,
  pckKey: ReturnType<typeof generateKeyPairSync>["privateKey"],
  chain: string,
) {
  const quote = quoteOf(tee);
  const bytes = signTdxQuote({
    signedRegion: quote.signedRegion,
    qeReport: quote.qeReport.raw,
    qeAuthData: quote.qeAuthData,
    attestationKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
    pckKey,
    pckChainPem: chain,
  });
  return { type: "tdx" as const, quote: bytes.toString("base64") };
}

describe("simulated TDX TEE, verified by the real TDX verifier with the simulated PCS's collateral", function () {
  this.timeout(30_000);
  let pki: SimPki;
  let intel: IntelCa;
  let anchors: TdxTrustAnchors;
  let pcs: CollateralSource;
  const reportData = new Uint8Array(randomBytes(64));

  before(async () => {
    pki = await generateSimPki();
    if (pki.intel === undefined) throw new Error("generateSimPki made no Intel CA");
    intel = pki.intel;
    anchors = { root: intel.root, tcbSigningCertificates: [intel.tcbSigner.certificate] };
    pcs = simulatedCollateralSource(pki);
  });

  /** `collateral: null` verifies without a collateral source. */
  const verify = (tee: TeeEvidence, collateral: CollateralSource | null = pcs): Promise<TeeVerification> =>
    createTdxVerifier({ anchors }).verify(tee, {
      now: NOW,
      expectedReportData: reportData,
      ...(collateral === null ? {} : { collateral }),
    });

  it("builds a quote v4 (TD 1.0 body, PCK chain to the simulated root) and carries no collateral", async () => {
    const tee = await new SimulatedTdxTee(pki).collect(reportData, { machine: "node-a" });
    expect(Object.keys(tee).sort()).to.deep.equal(["quote", "type"]);
    const quote = quoteOf(tee);
    expect([quote.header.version, quote.bodyType]).to.deep.equal([4, "tdx10"]);
    expect(Buffer.from(quote.body.reportData).equals(Buffer.from(reportData))).to.equal(true);
    expect(Buffer.from(quote.body.mrTd).toString("hex")).to.equal(SIMULATED_TDX_MRTD);
    const chain = parsePemCertificates(quote.pckCertChain, "chain");
    expect(chain).to.have.length(3);
    expect(Buffer.from(chain[2] ?? []).equals(intel.root.raw)).to.equal(true);
  });

  it("is authentic and UpToDate, with no error, given TCB info, QE identity and CRLs through a CollateralSource", async () => {
    const result = await verify(await new SimulatedTdxTee(pki).collect(reportData, { machine: "node-a" }));
    expect(result.errors).to.deep.equal([]);
    expect([result.authentic, result.tcbStatus]).to.deep.equal([true, "UpToDate"]);
    expect(result.claims).to.include({
      fmspc: SIMULATED_TDX_FMSPC,
      mrTd: SIMULATED_TDX_MRTD,
      reportData: Buffer.from(reportData).toString("hex"),
      debug: false,
      qeTcbStatus: "UpToDate",
      tdxModuleTcbStatus: "UpToDate",
    });
  });

  it("has no TCB status without a collateral source: the quote carries none", async () => {
    const result = await verify(
      await new SimulatedTdxTee(pki).collect(reportData, { machine: "node-a" }),
      null,
    );
    expect(result.tcbStatus).to.equal("Unknown");
    expect(codes(result)).to.deep.equal(["CollateralMissing"]);
  });

  it("is refused under the pinned Intel root", async () => {
    const tee = await new SimulatedTdxTee(pki).collect(reportData, { machine: "node-a" });
    const result = await tdxVerifier.verify(tee, { now: NOW, collateral: pcs });
    expect(result.authentic).to.equal(false);
    expect(codes(result)).to.deep.equal(["ChainInvalid"]);
  });

  it("refuses a quote re-signed with another PCK key (the genuine chain kept): SignatureInvalid", async () => {
    const genuine = await new SimulatedTdxTee(pki).collect(reportData, { machine: "node-a" });
    const chain = Buffer.from(quoteOf(genuine).pckCertChain).toString("utf8");
    const forged = resigned(genuine, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, chain);
    const result = await verify(forged);
    expect(result.authentic).to.equal(false);
    expect(result.errors).to.deep.include({
      code: "SignatureInvalid",
      message: "QE report signature does not verify with the PCK key",
    });
  });

  it("refuses a quote signed by a PCK certificate of another (untrusted) simulated PKI: ChainInvalid", async () => {
    const other = await generateSimPki();
    if (other.intel === undefined) throw new Error("no Intel CA");
    const genuine = await new SimulatedTdxTee(pki).collect(reportData, { machine: "node-a" });
    const leaf = issuePckLeaf(other.intel, "node-a", SIMULATED_TDX_PCK_TCB);
    const forged = resigned(
      genuine,
      leaf.keys.privateKey,
      pemChain(leaf.certificate, other.intel.pckCa.certificate, other.intel.root),
    );
    const result = await verify(forged);
    expect(result.authentic).to.equal(false);
    expect(codes(result)).to.deep.equal(["ChainInvalid"]);
  });

  it("refuses a quote whose REPORTDATA was changed after signing: the quote signature fails", async () => {
    const genuine = Buffer.from(
      (await new SimulatedTdxTee(pki).collect(reportData, { machine: "node-a" })).quote ?? "",
      "base64",
    );
    const tampered = Buffer.from(genuine);
    const reportDataAt = 48 + 520; // header, then TD report fields up to REPORTDATA
    tampered[reportDataAt] = (tampered[reportDataAt] ?? 0) ^ 0xff;
    const result = await verify({ type: "tdx", quote: tampered.toString("base64") });
    expect(result.authentic).to.equal(false);
    expect(result.errors).to.deep.include({
      code: "SignatureInvalid",
      message: "quote signature does not verify with the attestation key",
    });
    expect(codes(result)).to.include("BindingMismatch");
  });

  it("a machine whose PCK certificate the simulated PCK CRL lists is Revoked; another machine is not", async () => {
    const revoking = simulatedCollateralSource(pki, { revokedMachines: ["node-a"] });
    const tee = new SimulatedTdxTee(pki);
    const revoked = await verify(await tee.collect(reportData, { machine: "node-a" }), revoking);
    expect(codes(revoked)).to.deep.equal(["CertificateRevoked"]);
    expect([revoked.authentic, revoked.tcbStatus]).to.deep.equal([false, "Revoked"]);
    const other = await verify(await tee.collect(reportData, { machine: "node-b" }), revoking);
    expect([other.errors, other.tcbStatus]).to.deep.equal([[], "UpToDate"]);
  });

  it("gives each machine its own PCK certificate, the same one (key, serial) on every issue", () => {
    const [a, again, b] = ["node-a", "node-a", "node-b"].map((machine) =>
      issuePckLeaf(intel, machine, SIMULATED_TDX_PCK_TCB),
    );
    const jwk = (leaf: typeof a) => leaf?.certificate.publicKey.export({ format: "jwk" });
    expect(jwk(a)).to.deep.equal(jwk(again));
    expect(a?.serial).to.equal(again?.serial);
    expect(jwk(a)).not.to.deep.equal(jwk(b));
    expect(a?.serial).not.to.equal(b?.serial);
  });

  it("rejects REPORTDATA that is not 64 bytes", async () => {
    let error: unknown;
    await new SimulatedTdxTee(pki)
      .collect(new Uint8Array(32), { machine: "node-a" })
      .catch((e: unknown) => (error = e));
    expect(String(error)).to.include("REPORTDATA must be 64 bytes, not 32");
  });
});
