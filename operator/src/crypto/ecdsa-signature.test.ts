import { generateKeyPairSync, sign, verify } from "node:crypto";
import { expect } from "chai";
import { p1363ToDer, verifyP1363 } from "./ecdsa-signature.ts";

describe("p1363ToDer", () => {
  for (const [curve, hash, size] of [
    ["P-256", "sha256", 32],
    ["P-384", "sha384", 48],
  ] as const) {
    it(`re-encodes ${curve} r‖s into DER that OpenSSL accepts, high bits included`, () => {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
      let highBit = false;
      for (let i = 0; i < 300; i++) {
        const data = Buffer.from(`message ${i}`);
        const raw = sign(hash, data, { key: privateKey, dsaEncoding: "ieee-p1363" });
        expect(raw.length).to.equal(2 * size);
        expect(verify(hash, data, publicKey, p1363ToDer(raw)), `signature ${i}`).to.equal(true);
        if ((raw[0] ?? 0) & 0x80) highBit = true;
        expect(verifyP1363(hash, data, publicKey, raw)).to.equal(true);
      }
      expect(highBit, "some r has its high bit set").to.equal(true);
    });
  }

  it("matches OpenSSL's DER byte for byte for a fixed r‖s", () => {
    const r = Buffer.alloc(32, 0);
    r[1] = 0x81; // one leading zero, then a high bit: 0x00 stripped, 0x00 pad added
    const s = Buffer.alloc(32, 0x01);
    const der = p1363ToDer(Buffer.concat([r, s]));
    expect(der.toString("hex")).to.equal(
      "3044" + "022000" + r.subarray(1).toString("hex") + "0220" + s.toString("hex"),
    );
  });

  it("rejects a flipped bit, a truncated signature and a wrong key without throwing", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-384" });
    const other = generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey;
    const data = Buffer.from("report");
    const raw = sign("sha384", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
    const flipped = Buffer.from(raw);
    flipped[10] = (flipped[10] ?? 0) ^ 1;
    expect(verifyP1363("sha384", data, publicKey, flipped)).to.equal(false);
    expect(verifyP1363("sha384", data, publicKey, raw.subarray(0, 95))).to.equal(false);
    expect(verifyP1363("sha384", data, publicKey, new Uint8Array(0))).to.equal(false);
    expect(verifyP1363("sha384", data, publicKey, new Uint8Array(96))).to.equal(false);
    expect(verifyP1363("sha384", data, other, raw)).to.equal(false);
    expect(verifyP1363("sha384", Buffer.from("other"), publicKey, raw)).to.equal(false);
  });
});
