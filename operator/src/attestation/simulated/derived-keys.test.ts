import { expect } from "chai";
import { sign, verify, createPublicKey } from "node:crypto";
import { deriveEcPrivateKey, deriveSerial } from "./derived-keys.ts";

describe("derived simulated device keys", () => {
  const secret = Buffer.from("a CA's secret key material");

  for (const curve of ["P-256", "P-384"] as const)
    it(`${curve}: the same secret and label give the same working key; another label or secret another`, () => {
      const key = deriveEcPrivateKey(curve, secret, "chip-1");
      const jwk = key.export({ format: "jwk" });
      expect(jwk.crv).to.equal(curve);
      expect(deriveEcPrivateKey(curve, secret, "chip-1").export({ format: "jwk" })).to.deep.equal(jwk);
      expect(deriveEcPrivateKey(curve, secret, "chip-2").export({ format: "jwk" }).d).not.to.equal(jwk.d);
      expect(
        deriveEcPrivateKey(curve, Buffer.from("other"), "chip-1").export({ format: "jwk" }).d,
      ).not.to.equal(jwk.d);
      const signature = sign("sha256", Buffer.from("data"), key);
      expect(verify("sha256", Buffer.from("data"), createPublicKey(key), signature)).to.equal(true);
    });

  it("derives positive 16-byte serials without a leading zero byte, distinct per label and issuer", () => {
    const serials = ["a", "b", "c"].map((label) => deriveSerial(Buffer.from("issuer"), label));
    for (const serial of serials) {
      expect(serial).to.have.length(16);
      expect(serial[0]).to.be.within(0x40, 0x7f);
    }
    expect(new Set(serials.map((s) => Buffer.from(s).toString("hex"))).size).to.equal(3);
    expect(
      Buffer.from(deriveSerial(Buffer.from("other"), "a")).equals(Buffer.from(serials[0] ?? [])),
    ).to.equal(false);
    expect(
      Buffer.from(deriveSerial(Buffer.from("issuer"), "a")).equals(Buffer.from(serials[0] ?? [])),
    ).to.equal(true);
  });
});
