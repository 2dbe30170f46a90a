import { expect } from "chai";
import { join } from "node:path";
import { FIXTURE_TDX_DIR, SHARED_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import type { TeeVerification } from "../types.ts";
import { tdxTeeFromItem } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { tdxVerifier } from "./verifier.ts";

const uptodate = tdxTeeFromItem(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4"));
const codes = (result: TeeVerification): string[] =>
  [...new Set(result.errors.map((error) => error.code))].sort();

describe("verification time (dcapqvl-uptodate-v4: PCK 2025-02-06..2032-02-06, collateral 2025-06-19..2025-07-19)", () => {
  const cases: { name: string; at: string; authentic: boolean; tcbStatus: string; codes: string[] }[] = [
    {
      name: "inside every window: UpToDate",
      at: "2025-06-19T10:32:27Z",
      authentic: true,
      tcbStatus: "UpToDate",
      codes: [],
    },
    {
      name: "one second before the last collateral was issued: not yet valid",
      at: "2025-06-19T10:32:26Z",
      authentic: true,
      tcbStatus: "Unknown",
      codes: ["CollateralExpired"],
    },
    {
      name: "at the PCK CRL's nextUpdate: expired",
      at: "2025-07-19T10:00:35Z",
      authentic: true,
      tcbStatus: "Unknown",
      codes: ["CollateralExpired"],
    },
    {
      name: "before the PCK certificate's notBefore: certificate and collateral not yet valid",
      at: "2025-02-06T23:25:50Z",
      authentic: false,
      tcbStatus: "Unknown",
      codes: ["CertificateExpired", "CollateralExpired"],
    },
    {
      name: "after the PCK certificate's notAfter",
      at: "2032-02-07T00:00:00Z",
      authentic: false,
      tcbStatus: "Unknown",
      codes: ["CertificateExpired", "CollateralExpired"],
    },
    {
      name: "after the TCB Signing certificate's notAfter (2032-05-06)",
      at: "2032-06-01T00:00:00Z",
      authentic: false,
      tcbStatus: "Unknown",
      codes: ["CertificateExpired", "CollateralExpired"],
    },
  ];
  for (const test of cases) {
    it(`${test.name} (${test.at})`, async () => {
      const result = await tdxVerifier.verify(uptodate, { now: new Date(test.at) });
      expect(codes(result)).to.deep.equal(test.codes);
      expect(result.authentic).to.equal(test.authentic);
      expect(result.tcbStatus).to.equal(test.tcbStatus);
    });
  }

  it("names the TCB Signing certificate when it has expired", async () => {
    const result = await tdxVerifier.verify(uptodate, { now: new Date("2032-06-01T00:00:00Z") });
    const messages = result.errors.map((error) => error.message).join("\n");
    expect(messages).to.include("TCB info signer");
    expect(messages).to.include("Intel SGX TCB Signing");
  });

  it("google-spr-e4-v4 at 2053-07-01 (go-tdx-guest futureTime): rejected as expired", async () => {
    const tee = tdxTeeFromItem(join(SHARED_TDX_DIR, "google-spr-e4-v4"));
    const result = await tdxVerifier.verify(tee, { now: new Date("2053-07-01T00:00:00Z") });
    expect(result.authentic).to.equal(false);
    expect(codes(result)).to.deep.equal(["CertificateExpired", "CollateralExpired"]);
  });

  it("google-spr-e4-v4 after its TCB info's nextUpdate (2023-07-18T08:42:58Z): expired", async () => {
    const tee = tdxTeeFromItem(join(SHARED_TDX_DIR, "google-spr-e4-v4"));
    const result = await tdxVerifier.verify(tee, { now: new Date("2023-07-19T00:00:00Z") });
    expect(result.authentic).to.equal(true);
    expect(result.tcbStatus).to.equal("Unknown");
    expect(codes(result)).to.deep.equal(["CollateralExpired"]);
  });

  it("collateral issued after 2025-05-21 but shipped with the expired 2018 TCB Signing chain still verifies", async () => {
    const legacyChain = tdxTeeFromItem(join(SHARED_TDX_DIR, "google-spr-e4-v4")).collateral
      ?.tcbInfoIssuerChain;
    const collateral = {
      ...uptodate.collateral,
      tcbInfoIssuerChain: legacyChain,
      qeIdentityIssuerChain: legacyChain,
    };
    const result = await tdxVerifier.verify(
      { ...uptodate, collateral },
      { now: new Date("2025-07-01T00:00:00Z") },
    );
    expect(result.errors).to.deep.equal([]);
    expect(result.tcbStatus).to.equal("UpToDate");
  });

  it("an invalid verification time is an error, not an exception", async () => {
    const result = await tdxVerifier.verify(uptodate, { now: new Date("not a date") });
    expect(result.authentic).to.equal(false);
    expect(codes(result)).to.deep.equal(["EvidenceMalformed"]);
  });
});
