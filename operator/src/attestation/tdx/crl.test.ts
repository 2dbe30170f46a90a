import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SHARED_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import { isCrlSignedBy, parseCrl } from "./crl.ts";

const ECDSA_SHA256_OID = Buffer.from("06082a8648ce3d040302", "hex");

describe("Intel CRL signatures", () => {
  const collateral = JSON.parse(
    readFileSync(join(SHARED_TDX_DIR, "dcapqvl-uptodate-v4", "collateral.json"), "utf8"),
  ) as { root_ca_crl: string; pck_crl_issuer_chain: string };
  const chain =
    collateral.pck_crl_issuer_chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  const root = new X509Certificate(chain[chain.length - 1] ?? "");
  const der = Buffer.from(collateral.root_ca_crl, "hex");

  it("accepts Intel's root CA CRL, signed by the root with ECDSA-SHA256", () => {
    expect(isCrlSignedBy(parseCrl(der, "root CA CRL"), root)).to.equal(true);
  });

  it("refuses a CRL whose outer signatureAlgorithm differs from the signed part's (RFC 5280 5.1.1.2)", () => {
    const outer = der.lastIndexOf(ECDSA_SHA256_OID);
    expect(outer).to.be.greaterThan(der.indexOf(ECDSA_SHA256_OID));
    const altered = Buffer.from(der);
    altered[outer + ECDSA_SHA256_OID.length - 1] = 0x03; // ecdsa-with-SHA384, outside the signed bytes
    expect(isCrlSignedBy(parseCrl(altered, "root CA CRL"), root)).to.equal(false);
  });
});
