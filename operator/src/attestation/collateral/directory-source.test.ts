import { expect } from "chai";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURE_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import { collateralDirectory, pcsItems } from "../../../test/fixtures/tdx/pcs-items.ts";
import { tdxTeeFromItem, withoutCollateral } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { tdxVerifier } from "../tdx/verifier.ts";
import { collateralFileName, createDirectorySource } from "./directory-source.ts";
import { SGX_ROOT_CA_CRL, TDX_TCB_INFO } from "./kinds.ts";

const tee = tdxTeeFromItem(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4"));
const dir = collateralDirectory(pcsItems(tee, "b0c06f000000"));

describe("createDirectorySource", () => {
  after(() => {
    rmSync(dir, { recursive: true });
  });

  it("uses Intel's file names for Intel items", () => {
    expect(collateralFileName(TDX_TCB_INFO, "b0c06f000000")).to.equal("tcb-info-b0c06f000000.json");
    expect(collateralFileName(SGX_ROOT_CA_CRL, "root")).to.equal("root-ca-crl.der");
    expect(collateralFileName("snp-vcek", "Genoa/abcd")).to.equal(join("snp-vcek", "Genoa", "abcd"));
  });

  it("never leaves the directory", async () => {
    const source = createDirectorySource(dir);
    for (const key of ["../etc/passwd", "a/../../b", "", "/abs"]) {
      expect(collateralFileName("snp-vcek", key), key).to.equal(undefined);
      expect(await source.get("snp-vcek", key), key).to.equal(undefined);
    }
  });

  it("answers undefined for absent items and serves other kinds from <kind>/<key>", async () => {
    const source = createDirectorySource(dir);
    expect(await source.get(TDX_TCB_INFO, "00906ed50000")).to.equal(undefined);
    mkdirSync(join(dir, "snp-cert-chain", "Genoa"), { recursive: true });
    writeFileSync(join(dir, "snp-cert-chain", "Genoa", "vcek"), "chain");
    expect(Buffer.from((await source.get("snp-cert-chain", "Genoa/vcek")) ?? []).toString()).to.equal(
      "chain",
    );
  });

  it("completes a bundle without collateral to the same verdict (--collateral-dir)", async () => {
    const bare = withoutCollateral(tee);
    const result = await tdxVerifier.verify(bare, {
      now: new Date("2025-07-01T00:00:00Z"),
      collateral: createDirectorySource(dir),
    });
    expect(result.errors).to.deep.equal([]);
    expect(result.authentic).to.equal(true);
    expect(result.tcbStatus).to.equal("UpToDate");
  });

  it("bundle collateral wins over the directory, and is still verified", async () => {
    const forged = {
      ...tee,
      collateral: { ...tee.collateral, tcbInfo: tee.collateral?.tcbInfo?.replace("OutOfDate", "UpToDate") },
    };
    const result = await tdxVerifier.verify(forged, {
      now: new Date("2025-07-01T00:00:00Z"),
      collateral: createDirectorySource(dir),
    });
    expect(result.authentic).to.equal(false);
    expect(result.errors.map((error) => error.code)).to.include("SignatureInvalid");
    expect(result.tcbStatus).to.equal("Unknown");
  });
});
