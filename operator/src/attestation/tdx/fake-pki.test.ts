import { expect } from "chai";
import { join } from "node:path";
import {
  crl,
  fakeCollateral,
  fakeEvidence,
  fakePki,
  issue,
  pem,
  sgxExtension,
  type FakePki,
} from "../../../test/support/fakes/intel-pki.ts";
import { FIXTURE_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import { SGX_PCK_CRL } from "../collateral/kinds.ts";
import type { CollateralSource, TeeEvidence, TeeVerification } from "../types.ts";
import { tdxTeeFromItem } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { createTdxVerifier, tdxVerifier } from "./verifier.ts";

const real = tdxTeeFromItem(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4"));
const now = new Date("2025-07-01T00:00:00Z");
const codes = (result: TeeVerification): string[] =>
  [...new Set(result.errors.map((error) => error.code))].sort();

describe("chains, CRLs and revocation under a test-only PKI", function () {
  this.timeout(10_000);
  let pki: FakePki;
  let evidence: TeeEvidence;
  const verify = (tee: TeeEvidence, anchors = pki.anchors): Promise<TeeVerification> =>
    createTdxVerifier({ anchors }).verify(tee, { now });

  before(() => {
    // Same FMSPC and TCB as the fixture's PCK, so the real TCB info applies.
    pki = fakePki("b0c06f000000", [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], 11);
    evidence = fakeEvidence(pki, real, fakeCollateral(pki, real.collateral ?? {}));
  });

  it("re-signed evidence verifies under its own root (the builder is sound)", async () => {
    const result = await verify(evidence);
    expect(result.errors).to.deep.equal([]);
    expect(result.authentic).to.equal(true);
    expect(result.tcbStatus).to.equal("UpToDate");
  });

  it("the same evidence is rejected under the pinned Intel root: roots in evidence are never trusted", async () => {
    const result = await tdxVerifier.verify(evidence, { now });
    expect(result.authentic).to.equal(false);
    expect(codes(result)).to.include("ChainInvalid");
  });

  it("a PCK certificate on the PCK CRL is Revoked", async () => {
    const revoked = fakeEvidence(pki, real, fakeCollateral(pki, real.collateral ?? {}, { pck: [pki.leaf] }));
    const result = await verify(revoked);
    expect(codes(result)).to.deep.equal(["CertificateRevoked"]);
    expect(result.authentic).to.equal(false);
    expect(result.tcbStatus).to.equal("Revoked");
  });

  it("the operator's newer PCK CRL wins over the bundle's older, still valid one (anti-rollback): Revoked", async () => {
    const older = fakeCollateral(pki, real.collateral ?? {});
    const bundle = fakeEvidence(pki, real, older);
    expect((await verify(bundle)).authentic, "the bundle's own, older CRL lists nothing").to.equal(true);
    /** The operator's collateral source, holding a PCK CRL issued at `thisUpdate` that lists the PCK. */
    const operatorRevoking = (thisUpdate: string): CollateralSource => {
      const revoking = crl(pki.pckCa, [pki.leaf], pki.pckCa.keys.privateKey, new Date(thisUpdate));
      const der = Buffer.from(revoking, "base64");
      return { get: (kind) => Promise.resolve(kind === SGX_PCK_CRL ? der : undefined) };
    };
    const withSource = (collateral: CollateralSource) =>
      createTdxVerifier({ anchors: pki.anchors }).verify(bundle, { now, collateral });
    const result = await withSource(operatorRevoking("2025-03-01T00:00:00Z"));
    expect(codes(result)).to.deep.equal(["CertificateRevoked"]);
    expect(result.authentic).to.equal(false);
    // The bundle's collateral still wins when it is the newer one.
    expect((await withSource(operatorRevoking("2024-06-01T00:00:00Z"))).authentic).to.equal(true);
  });

  it("a PCK CA on the root CA CRL is Revoked", async () => {
    const revoked = fakeEvidence(
      pki,
      real,
      fakeCollateral(pki, real.collateral ?? {}, { root: [pki.pckCa] }),
    );
    const result = await verify(revoked);
    expect(codes(result)).to.deep.equal(["CertificateRevoked"]);
    expect(result.tcbStatus).to.equal("Revoked");
  });

  it("a revoked TCB Signing certificate invalidates the collateral", async () => {
    const revoked = fakeEvidence(
      pki,
      real,
      fakeCollateral(pki, real.collateral ?? {}, { root: [pki.tcbSigner] }),
    );
    const result = await verify(revoked);
    expect(codes(result)).to.deep.equal(["CertificateRevoked"]);
    expect(result.authentic).to.equal(false);
    expect(result.tcbStatus).to.equal("Unknown");
  });

  it("a PCK CRL signed by another key is SignatureInvalid", async () => {
    const impostor = issue("Intel SGX PCK Platform CA", pki.root, { ca: true });
    const collateral = {
      ...fakeCollateral(pki, real.collateral ?? {}),
      pckCrl: fakeCollateral({ ...pki, pckCa: impostor }, {}).pckCrl,
    };
    const result = await verify({ ...evidence, collateral });
    expect(codes(result)).to.deep.equal(["SignatureInvalid"]);
  });

  it("a PCK leaf not signed by the CA it names is ChainInvalid", async () => {
    const stranger = issue("Intel SGX PCK Certificate", pki.pckCa, {
      ca: false,
      signer: pki.tcbSigner.keys.privateKey,
    });
    const broken = fakeEvidence({ ...pki, leaf: stranger }, real, fakeCollateral(pki, real.collateral ?? {}));
    const result = await verify(broken);
    expect(codes(result)).to.deep.equal(["ChainInvalid"]);
    expect(result.authentic).to.equal(false);
  });

  it("a certificate that is not a PCK certificate is ChainInvalid", async () => {
    const other = issue("Some Leaf", pki.pckCa, { ca: false });
    const result = await verify(
      fakeEvidence({ ...pki, leaf: other }, real, fakeCollateral(pki, real.collateral ?? {})),
    );
    expect(codes(result)).to.deep.equal(["ChainInvalid"]);
  });

  it("a TCB info issuer chain that does not reach the root is ChainInvalid", async () => {
    const otherRoot = issue("Intel SGX Root CA", undefined, { ca: true });
    const otherSigner = issue("Intel SGX TCB Signing", otherRoot, { ca: false });
    const collateral = { ...evidence.collateral, tcbInfoIssuerChain: pem(otherSigner, otherRoot) };
    const result = await verify({ ...evidence, collateral });
    expect(codes(result)).to.deep.equal(["ChainInvalid"]);
  });

  it("an expired PCK CA is CertificateExpired", async () => {
    const oldCa = issue("Intel SGX PCK Platform CA", pki.root, {
      ca: true,
      notAfter: new Date("2024-01-01T00:00:00Z"),
    });
    const extension = sgxExtension("b0c06f000000", [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], 11);
    const leaf = issue("Intel SGX PCK Certificate", oldCa, { ca: false, extensions: [extension] });
    const collateral = fakeCollateral({ ...pki, pckCa: oldCa }, real.collateral ?? {});
    const result = await verify(
      fakeEvidence({ ...pki, pckCa: oldCa, leaf }, real, collateral, pem(leaf, oldCa)),
    );
    expect(result.authentic).to.equal(false);
    expect(codes(result)).to.deep.equal(["CertificateExpired"]);
    expect(result.errors[0]?.message).to.include("Intel SGX PCK Platform CA");
  });
});
