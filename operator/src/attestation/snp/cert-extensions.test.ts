import { expect } from "chai";
import { localFixture, sharedFile } from "../../../test/fixtures/snp/shared-items.ts";
import { decodeAmdExtensions, isAmdPssSignature, parseCertificate } from "./cert-extensions.ts";

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString("hex");

describe("AMD VCEK/VLEK certificate extensions", () => {
  it("decodes the Milan VCEK: productName Milan-B0, TCB SPLs and the 64-byte hwID (= CHIP_ID)", () => {
    const cert = parseCertificate(localFixture("milan-v2-vcek.der"));
    const ext = decodeAmdExtensions(cert);
    expect(ext.productName).to.equal("Milan-B0");
    expect(ext.spl).to.deep.equal({ bootloader: 2, tee: 0, snp: 5, microcode: 68 });
    expect(hex(ext.hwId)).to.have.length(128);
    expect(hex(ext.hwId)).to.match(/^3ac3fe21e13fb099/);
    expect(ext.cspId).to.equal(undefined);
    expect(isAmdPssSignature(cert)).to.equal(true);
  });

  it("decodes the Turin VCEK (virtee-turin-vcek-only): fmcSPL and an 8-byte hwID", () => {
    const ext = decodeAmdExtensions(parseCertificate(localFixture("turin-vcek.der")));
    expect(ext.productName).to.equal("Turin");
    expect(ext.structVersion).to.equal(1);
    expect(ext.spl).to.deep.equal({ fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 9 });
    expect(hex(ext.hwId)).to.equal("1e550a8ee5cf9f4d");
  });

  it("decodes the AWS VLEK: no hwID, csp_id, a two-byte ucodeSPL of 217", () => {
    const ext = decodeAmdExtensions(
      parseCertificate(sharedFile("trustee-aws-vlek-milan-v3", "test-vlek.der")),
    );
    expect(ext.productName).to.equal("Milan");
    expect(ext.spl).to.deep.equal({ bootloader: 4, tee: 0, snp: 24, microcode: 217 });
    expect(ext.hwId).to.equal(undefined);
    expect(ext.cspId).to.equal("CN=cc-us-east-2.amazonaws.com");
  });

  it("decodes the Genoa VCEK", () => {
    const ext = decodeAmdExtensions(parseCertificate(sharedFile("trustee-genoa-v3-e2e", "vcek.der")));
    expect(ext.productName).to.equal("Genoa");
    expect(ext.spl).to.deep.equal({ bootloader: 10, tee: 0, snp: 23, microcode: 25 });
    expect(hex(ext.hwId)).to.match(/^371c55d6d15cb50f/);
  });

  it("reports garbage as EvidenceMalformed", () => {
    expect(() => parseCertificate(Uint8Array.from([0x30, 0x03, 1, 2]))).to.throw(/not valid DER X.509/);
  });
});
