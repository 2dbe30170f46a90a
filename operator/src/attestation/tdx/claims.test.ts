import { expect } from "chai";
import { tdxTeeFromItem } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { quoteClaims } from "./claims.ts";
import { parseTdxQuote, type TdxQuote } from "./quote.ts";

const FIXTURES = new URL("../../../test/fixtures/", import.meta.url);
const parsed = (item: string): TdxQuote =>
  parseTdxQuote(Buffer.from(tdxTeeFromItem(new URL(item, FIXTURES).pathname).quote ?? "", "base64"));

/** The same quote with every body field in a buffer of its own (no shared report to convert at once). */
function withSeparateFields(quote: TdxQuote): TdxQuote {
  const body = Object.fromEntries(
    Object.entries(quote.body).map(([name, value]) => [
      name,
      Array.isArray(value)
        ? value.map((v: Uint8Array) => Uint8Array.from(v))
        : Uint8Array.from(value as Uint8Array),
    ]),
  ) as unknown as TdxQuote["body"];
  return { ...quote, body };
}

describe("quoteClaims: each field's hex, from one conversion of the report or field by field", () => {
  for (const item of ["tdx/dcapqvl-uptodate-v4", "evidence/tdx/google-v5-sample"]) {
    it(item, () => {
      const quote = parsed(item);
      const claims = quoteClaims(quote);
      const hex = (bytes: Uint8Array | undefined): string | undefined =>
        bytes === undefined ? undefined : Buffer.from(bytes).toString("hex");
      expect(claims.mrTd).to.equal(hex(quote.body.mrTd));
      expect(claims.rtmr3).to.equal(hex(quote.body.rtmrs[3]));
      expect(claims.reportData).to.equal(hex(quote.body.reportData));
      expect(claims.teeTcbSvn).to.equal(hex(quote.body.teeTcbSvn));
      expect(claims.mrServiceTd).to.equal(hex(quote.body.mrServiceTd));
      expect(quoteClaims(withSeparateFields(quote))).to.deep.equal(claims);
    });
  }
});
