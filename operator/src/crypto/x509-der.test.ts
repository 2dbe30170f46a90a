import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { expect } from "chai";
import * as pkijs from "pkijs";
import { certificatesFromBytes } from "./pem.ts";
import { DerError } from "./der.ts";
import { parseCertificateDer } from "./x509-der.ts";

const FIXTURES = new URL("../../test/fixtures/evidence/", import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** Every real certificate among the evidence fixtures (AMD, Intel, NVIDIA), as DER. */
function realCertificates(): { source: string; der: Uint8Array }[] {
  return files(FIXTURES)
    .filter((f) => /\.(pem|der|crt|cer)$/.test(f) && !/crl/i.test(f))
    .flatMap((source) => {
      try {
        return certificatesFromBytes(readFileSync(source), source).map((der) => ({ source, der }));
      } catch {
        return [];
      }
    })
    .filter(({ der }) => {
      try {
        new X509Certificate(der);
        return true;
      } catch {
        return false;
      }
    });
}

const hex = (b: Uint8Array | ArrayBuffer): string => Buffer.from(new Uint8Array(b)).toString("hex");

describe("parseCertificateDer", () => {
  const certificates = realCertificates();

  it("reads every real fixture certificate as pkijs and node:crypto do", () => {
    expect(certificates.length).to.be.greaterThan(20);
    for (const { source, der } of certificates) {
      const ours = parseCertificateDer(der, source);
      const theirs = pkijs.Certificate.fromBER(der);
      const node = new X509Certificate(der);
      expect(hex(ours.subject), source).to.equal(hex(theirs.subject.valueBeforeDecode));
      expect(hex(ours.issuer), source).to.equal(hex(theirs.issuer.valueBeforeDecode));
      expect(hex(ours.tbs), source).to.equal(hex(theirs.tbsView));
      expect(hex(ours.subjectPublicKey), source).to.equal(
        hex(theirs.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
      );
      expect(BigInt(`0x${hex(ours.serial)}`), source).to.equal(BigInt(`0x${node.serialNumber}`));
      expect(ours.signatureAlgorithm.oid, source).to.equal(theirs.signatureAlgorithm.algorithmId);
      expect(
        ours.extensions.map((e) => [e.oid, e.critical, hex(e.value)]),
        source,
      ).to.deep.equal(
        (theirs.extensions ?? []).map((e) => [
          e.extnID,
          e.critical,
          hex(e.extnValue.valueBlock.valueHexView),
        ]),
      );
    }
  });

  it("refuses every truncation of a real certificate, and trailing bytes, with a DerError", () => {
    const der = certificates[0]?.der ?? new Uint8Array();
    for (let length = 0; length < der.length; length += 7)
      expect(() => parseCertificateDer(der.subarray(0, length)), `length ${length}`).to.throw(DerError);
    expect(() => parseCertificateDer(Buffer.concat([der, Buffer.of(0)]))).to.throw(
      DerError,
      /follow the value/,
    );
  });

  it("refuses a certificate whose signed and outer signature algorithms differ", () => {
    const { der } = certificates.find(
      ({ der }) => parseCertificateDer(der).signatureAlgorithm.parameters === undefined,
    ) ?? {
      der: new Uint8Array(),
    };
    const parsed = parseCertificateDer(der);
    const oidDer = Buffer.from(
      parsed.signatureAlgorithm.oid === "1.2.840.10045.4.3.3"
        ? "06082a8648ce3d040303"
        : "06082a8648ce3d040302",
      "hex",
    );
    const copy = Buffer.from(der);
    const last = copy.lastIndexOf(oidDer);
    expect(last).to.be.greaterThan(0);
    const at = last + oidDer.length - 1;
    copy[at] = (copy[at] ?? 0) ^ 0x01; // ecdsa-with-SHA384 ⇄ SHA256 variant: same length
    expect(() => parseCertificateDer(copy)).to.throw(DerError, /signature algorithms differ/);
  });

  it("refuses an extension that appears twice", () => {
    const ext = (oidHex: string) =>
      `30 ${(oidHex.length / 2 + 4).toString(16).padStart(2, "0")} 06 ${(oidHex.length / 2).toString(16).padStart(2, "0")} ${oidHex} 04 00`;
    const one = ext("551d0f").replace(/\s/g, "");
    const list = `30${((one.length * 2) / 2).toString(16).padStart(2, "0")}${one}${one}`;
    const wrapped = `a3${(list.length / 2).toString(16).padStart(2, "0")}${list}`;
    const alg = "300a06082a8648ce3d040303";
    const name = "3000";
    const validity = "3000";
    const spki = "3009300306012a03020000";
    const tbsBody = `020101${alg}${name}${validity}${name}${spki}${wrapped}`;
    const tbs = `30${(tbsBody.length / 2).toString(16).padStart(2, "0")}${tbsBody}`;
    const certBody = `${tbs}${alg}030100`;
    const cert = Buffer.from(`30${(certBody.length / 2).toString(16).padStart(2, "0")}${certBody}`, "hex");
    expect(() => parseCertificateDer(cert)).to.throw(DerError, /2\.5\.29\.15 appears twice/);
  });
});
