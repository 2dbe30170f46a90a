import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { makeFakeAmdPki } from "../../../operator/src/attestation/simulated/amd-pki.ts";
import { parsePemCertificates } from "../../../operator/src/crypto/pem.ts";
import {
  encodeSevCertTable,
  parseSevCertTable,
  SEV_CERT_GUIDS,
  snpCertificatesFromAuxblob,
} from "./sev-cert-table.ts";

describe("SEV certificate table (configfs-tsm auxblob for sev_guest)", function () {
  this.timeout(20_000);

  it("round-trips entries; offsets count from the table start", () => {
    const entries = [
      { guid: SEV_CERT_GUIDS.vcek, data: Uint8Array.from([1, 2, 3]) },
      { guid: SEV_CERT_GUIDS.ask, data: Uint8Array.from([4, 5]) },
    ];
    const table = encodeSevCertTable(entries);
    expect(table.length).to.equal(3 * 24 + 5);
    // The VCEK entry: GUID bytes in text order, then offset 72 and length 3 (little-endian).
    expect(Buffer.from(table.subarray(0, 24)).toString("hex")).to.equal(
      "63da758de6644564adc5f4b93be8accd" + "48000000" + "03000000",
    );
    expect(parseSevCertTable(table)).to.deep.equal(entries);
  });

  it("takes the VCEK, ASK and ARK out of an auxblob (with the page padding the kernel leaves)", async () => {
    const pki = await makeFakeAmdPki({ product: "Genoa" });
    const der = (pem: string): Uint8Array => parsePemCertificates(pem, "test")[0] ?? new Uint8Array();
    const table = encodeSevCertTable([
      { guid: SEV_CERT_GUIDS.ark, data: der(pki.arkPem) },
      { guid: SEV_CERT_GUIDS.vcek, data: pki.leafDer },
      { guid: SEV_CERT_GUIDS.ask, data: der(pki.intermediatePem) },
      { guid: "92f81bc3-5811-4d3d-97ff-d19f88dc67ea", data: Uint8Array.from([9]) },
    ]);
    const padded = new Uint8Array(table.length + 4096);
    padded.set(table);
    const certificates = snpCertificatesFromAuxblob(padded);
    expect(new X509Certificate(certificates.vcek ?? "").raw).to.deep.equal(Buffer.from(pki.leafDer));
    expect(certificates.vlek).to.equal(undefined);
    expect(certificates.certChain).to.equal(pki.intermediatePem + pki.arkPem);
  });

  it("returns nothing for an empty or all-zero auxblob", () => {
    expect(snpCertificatesFromAuxblob(new Uint8Array())).to.deep.equal({});
    expect(snpCertificatesFromAuxblob(new Uint8Array(4096))).to.deep.equal({});
  });

  it("rejects a table without terminator and an entry pointing past the end", () => {
    const table = encodeSevCertTable([{ guid: SEV_CERT_GUIDS.vcek, data: Uint8Array.from([1]) }]);
    const unterminated = new Uint8Array(24).fill(0x11, 0, 16); // one empty entry, then the end
    expect(() => parseSevCertTable(unterminated)).to.throw("no terminating zero entry");
    const broken = Uint8Array.from(table);
    new DataView(broken.buffer).setUint32(20, 1000, true);
    expect(() => parseSevCertTable(broken)).to.throw("points past the end");
  });
});
