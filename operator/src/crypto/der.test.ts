import { expect } from "chai";
import {
  bitString,
  boolean,
  children,
  DerError,
  integerBytes,
  oid,
  readDer,
  smallInteger,
  TAG,
  time,
} from "./der.ts";

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s/g, ""), "hex"));

describe("der", () => {
  describe("refuses encodings that are not DER, naming what is wrong", () => {
    const cases: [string, string, RegExp][] = [
      ["empty input", "", /no value at byte 0/],
      ["a truncated length", "30", /truncated length/],
      ["an indefinite length (BER)", "3080 0000", /indefinite length/],
      ["a long-form length that fits the short form", "3081 05 0500050005", /shortest form/],
      ["a length with a leading zero byte", "3082 0005 0500050005", /leading zero/],
      ["a value running past the end", "3005 0500", /runs past the end/],
      ["bytes after the value", "0500 00", /1 bytes follow the value/],
      ["a high tag number", "1f81 00", /high tag numbers/],
      ["a length of more than 4 bytes", "3085 0000000001 00", /too large/],
    ];
    for (const [name, hex, message] of cases) {
      it(name, () => {
        expect(() => readDer(bytes(hex), "value")).to.throw(DerError, message);
      });
    }
  });

  it("reads nested TLVs without copying, consuming a constructed value exactly", () => {
    const input = bytes("3008 0201 05 0403 aabbcc");
    const node = readDer(input, "seq");
    const [n, octets] = children(node, "seq");
    expect(smallInteger(n, "n")).to.equal(5);
    expect(Buffer.from(octets?.content ?? []).toString("hex")).to.equal("aabbcc");
    expect(octets?.content.buffer).to.equal(input.buffer);
    expect(() => children(readDer(bytes("3003 020105"), "x"), "x")).to.not.throw();
    expect(() => children(readDer(bytes("3004 02010500"), "x"), "x")).to.throw(DerError, /truncated length/);
  });

  describe("primitive values", () => {
    it("INTEGERs must be minimal; negatives are refused where a count is expected", () => {
      expect(() => integerBytes(readDer(bytes("0202 0001"), "i"), "i")).to.throw(/shortest form/);
      expect(() => integerBytes(readDer(bytes("0202 ff80"), "i"), "i")).to.throw(/shortest form/);
      expect(Buffer.from(integerBytes(readDer(bytes("0202 0080"), "i"), "i")).toString("hex")).to.equal(
        "0080",
      );
      expect(() => smallInteger(readDer(bytes("0201 80"), "i"), "i")).to.throw(/negative/);
      expect(smallInteger(readDer(bytes("0a01 06"), "e"), "e", TAG.ENUMERATED)).to.equal(6);
      expect(() => smallInteger(readDer(bytes("0201 06"), "e"), "e", TAG.ENUMERATED)).to.throw(
        /expected tag 0x0a/,
      );
    });

    it("BOOLEAN is 0x00 or 0xff", () => {
      expect(boolean(readDer(bytes("0101 ff"), "b"), "b")).to.equal(true);
      expect(boolean(readDer(bytes("0101 00"), "b"), "b")).to.equal(false);
      expect(() => boolean(readDer(bytes("0101 01"), "b"), "b")).to.throw(/0x00 or 0xff/);
    });

    it("OBJECT IDENTIFIERs decode their arcs, including multi-byte ones", () => {
      expect(oid(readDer(bytes("0609 608648016503040202"), "o"), "o")).to.equal("2.16.840.1.101.3.4.2.2");
      expect(oid(readDer(bytes("0603 551d0f"), "o"), "o")).to.equal("2.5.29.15");
      expect(() => oid(readDer(bytes("0602 2a86"), "o"), "o")).to.throw(/ends inside an arc/);
      expect(() => oid(readDer(bytes("0603 2a8001"), "o"), "o")).to.throw(/leading 0x80/);
    });

    it("BIT STRING unused bits must be zero", () => {
      expect(bitString(readDer(bytes("0302 0184"), "k"), "k").unusedBits).to.equal(1);
      expect(() => bitString(readDer(bytes("0302 0185"), "k"), "k")).to.throw(/not zero/);
      expect(() => bitString(readDer(bytes("0302 0800"), "k"), "k")).to.throw(/unused-bits count/);
    });

    it("times: UTCTime windows 1950-2049, GeneralizedTime with fractions, impossible dates refused", () => {
      const utc = (s: string) =>
        time(
          readDer(bytes(`17${s.length.toString(16).padStart(2, "0")}${Buffer.from(s).toString("hex")}`), "t"),
          "t",
        );
      const gen = (s: string) =>
        time(
          readDer(bytes(`18${s.length.toString(16).padStart(2, "0")}${Buffer.from(s).toString("hex")}`), "t"),
          "t",
        );
      expect(utc("491231235959Z").toISOString()).to.equal("2049-12-31T23:59:59.000Z");
      expect(utc("500101000000Z").toISOString()).to.equal("1950-01-01T00:00:00.000Z");
      expect(gen("20261207083000Z").toISOString()).to.equal("2026-12-07T08:30:00.000Z");
      expect(gen("20261207083000.25Z").toISOString()).to.equal("2026-12-07T08:30:00.250Z");
      expect(() => gen("20260230000000Z")).to.throw(/not a valid time/);
      expect(() => gen("20261207083000.50Z")).to.throw(/YYYYMMDDHHMMSS/);
      expect(() => utc("2612070830Z")).to.throw(/YYMMDDHHMMSSZ/);
      expect(() => gen("20261207083000+0100")).to.throw(/YYYYMMDDHHMMSS/);
    });
  });
});
