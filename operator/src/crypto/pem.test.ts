import { expect } from "chai";
import { decodeBase64Strict } from "./pem.ts";

describe("decodeBase64Strict", () => {
  const accepted: [string, string, string][] = [
    ["padded", "QUJD", "414243"],
    ["one padding character", "QUI=", "4142"],
    ["two padding characters", "QQ==", "41"],
    ["line breaks and spaces between groups", "QUJD\nREVG\r\n R0g=", "414243444546474" + "8"],
    ["empty", "", ""],
  ];
  for (const [name, text, hex] of accepted) {
    it(`accepts ${name}`, () => {
      expect(Buffer.from(decodeBase64Strict(text, "x")).toString("hex")).to.equal(hex);
    });
  }
  const refused: [string, string][] = [
    ["a length that is not a multiple of 4", "QUJDR"],
    ["missing padding", "QUI"],
    ["the URL-safe alphabet", "-_-_"],
    ["a character outside the alphabet", "QU*D"],
    ["padding inside the text", "QQ==QUJD"],
    ["three padding characters", "Q==="],
    ["non-zero bits after the last byte (not canonical)", "QR=="],
    ["a non-ASCII character", "QUJ\u00e9"],
  ];
  for (const [name, text] of refused) {
    it(`refuses ${name}`, () => {
      expect(() => decodeBase64Strict(text, "gpus[0].evidence")).to.throw(
        "gpus[0].evidence is not valid base64",
      );
    });
  }
});
