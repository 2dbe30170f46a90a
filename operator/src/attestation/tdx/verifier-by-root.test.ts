import { expect } from "chai";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { join } from "node:path";
import { FIXTURE_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import { tdxTeeFromItem } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { simulatedTdxAnchors } from "../simulated/backends.ts";
import { simulatedCollateralSource } from "../simulated/collateral-routes.ts";
import { issuePckLeaf, pemChain } from "../simulated/intel-pki.ts";
import { generateSimPki, simPkiTrustRoots, type SimPki } from "../simulated/sim-pki.ts";
import { SimulatedTdxTee } from "../simulated/simulated-tdx.ts";
import { SIMULATED_TDX_PCK_TCB } from "../simulated/tdx-platform.ts";
import { signTdxQuote } from "../simulated/tdx-quote.ts";
import type { TeeEvidence, TeeVerification } from "../types.ts";
import { parseTdxQuote } from "./quote.ts";
import { intelTrustAnchors } from "./trust-anchors.ts";
import { tdxVerifier } from "./verifier.ts";
import { createTdxVerifierByRoot, pckChainTop } from "./verifier-by-root.ts";

const codes = (result: TeeVerification): string[] => [...new Set(result.errors.map((e) => e.code))].sort();

describe("TDX verifier choosing its anchors by the quote's PCK chain root", function () {
  this.timeout(30_000);
  let pki: SimPki;
  let stranger: SimPki;
  const reportData = new Uint8Array(randomBytes(64));
  const verifier = () => createTdxVerifierByRoot(tdxVerifier, simulatedTdxAnchors(simPkiTrustRoots(pki).tdx));

  before(async () => {
    [pki, stranger] = await Promise.all([generateSimPki(), generateSimPki()]);
  });

  it("verifies a real quote with the pinned Intel root, as the pinned verifier does", async () => {
    const real = tdxTeeFromItem(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4"));
    expect(pckChainTop(real)?.raw.equals(intelTrustAnchors().root.raw)).to.equal(true);
    const result = await verifier().verify(real, { now: new Date("2025-07-01T00:00:00Z") });
    expect(result.errors).to.deep.equal([]);
    expect([result.authentic, result.tcbStatus]).to.deep.equal([true, "UpToDate"]);
  });

  it("verifies a simulated quote with the simulated root of the trust-roots file", async () => {
    const tee = await new SimulatedTdxTee(pki).collect(reportData, { machine: "node-a" });
    const result = await verifier().verify(tee, {
      now: new Date(),
      collateral: simulatedCollateralSource(pki),
    });
    expect(result.errors).to.deep.equal([]);
    expect([result.authentic, result.tcbStatus]).to.deep.equal([true, "UpToDate"]);
  });

  it("verifies a simulated quote whose chain omits the root, by the root that issued its PCK CA", async () => {
    const intel = pki.intel!;
    const genuine = parseTdxQuote(
      Buffer.from(
        (await new SimulatedTdxTee(pki).collect(reportData, { machine: "node-a" })).quote ?? "",
        "base64",
      ),
    );
    const leaf = issuePckLeaf(intel, "node-a", SIMULATED_TDX_PCK_TCB);
    const quote = signTdxQuote({
      signedRegion: genuine.signedRegion,
      qeReport: genuine.qeReport.raw,
      qeAuthData: genuine.qeAuthData,
      attestationKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
      pckKey: leaf.keys.privateKey,
      pckChainPem: pemChain(leaf.certificate, intel.pckCa.certificate),
    });
    const tee: TeeEvidence = { type: "tdx", quote: quote.toString("base64") };
    const result = await verifier().verify(tee, {
      now: new Date(),
      collateral: simulatedCollateralSource(pki),
    });
    expect(result.errors).to.deep.equal([]);
    expect(result.authentic).to.equal(true);
  });

  it("refuses a simulated quote under a root the file does not list (the pinned verifier sees it)", async () => {
    const tee = await new SimulatedTdxTee(stranger).collect(reportData, { machine: "node-a" });
    const result = await verifier().verify(tee, {
      now: new Date(),
      collateral: simulatedCollateralSource(stranger),
    });
    expect(result.authentic).to.equal(false);
    expect(codes(result)).to.deep.equal(["ChainInvalid"]);
    expect(result.errors[0]?.message).to.include("not the pinned Intel root");
  });

  it("hands evidence without a parsable quote to the pinned verifier, which names what is wrong", async () => {
    const tee: TeeEvidence = { type: "tdx", quote: Buffer.from("not a quote").toString("base64") };
    expect(pckChainTop(tee)).to.equal(undefined);
    const result = await verifier().verify(tee, { now: new Date() });
    expect(result.authentic).to.equal(false);
    expect(codes(result)).to.deep.equal(["EvidenceMalformed"]);
  });
});
