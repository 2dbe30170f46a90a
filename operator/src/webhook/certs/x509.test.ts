import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { issueCertificate, serialFromRandom } from "./x509.ts";

describe("webhook certificates (x509.ts)", function () {
  it("makes every serial a positive, minimally encoded DER INTEGER", function () {
    const cases: [string, number[], number][] = [
      ["a leading zero byte (not minimal DER) becomes 0x01", [0x00, 0x05, 0xaa], 0x01],
      ["a set top bit (negative) is cleared", [0x80, 0x05], 0x01],
      ["all ones keeps the rest", [0xff, 0xff], 0x7f],
      ["an ordinary byte keeps its low bit set", [0x42, 0x00], 0x43],
    ];
    for (const [name, random, first] of cases) {
      const serial = serialFromRandom(Uint8Array.from(random));
      expect(serial[0], name).to.equal(first);
      expect([...serial.slice(1)], name).to.deep.equal(random.slice(1));
    }
  });

  it("issues certificates OpenSSL parses, each time (256 in a row)", function () {
    const now = Date.now();
    for (let i = 0; i < 256; i++) {
      const { certPem } = issueCertificate({
        commonName: `serial-${String(i)}`,
        ca: true,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 3_600_000),
      });
      expect(new X509Certificate(certPem).serialNumber).to.match(/^[0-9A-F]+$/);
    }
  });
});
