import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { tdxTeeFromItem } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { platformPartStart } from "./quote.ts";
import { QuoteTextDecoder } from "./quote-text.ts";

const FIXTURES = new URL("../../../test/fixtures/", import.meta.url);
const QUOTE_ITEMS = [
  "tdx/dcapqvl-uptodate-v4",
  "tdx/dcapqvl-v5-no-tcb-level",
  "evidence/tdx/google-spr-e4-v4",
  "evidence/tdx/google-v5-sample",
];
const quoteText = (item: string): string => tdxTeeFromItem(new URL(item, FIXTURES).pathname).quote ?? "";
const bytesOf = (decoded: Uint8Array | undefined): string | undefined =>
  decoded === undefined ? undefined : Buffer.from(decoded).toString("hex");

/** Replaces the character at `at` by another base64 character. */
function changedAt(text: string, at: number): string {
  const replacement = text[at] === "A" ? "B" : "A";
  return `${text.slice(0, at)}${replacement}${text.slice(at + 1)}`;
}

describe("QuoteTextDecoder", () => {
  it("gives exactly Node's bytes for every v4 and v5 fixture quote, remembered or not", () => {
    const decoder = new QuoteTextDecoder(platformPartStart);
    for (const item of QUOTE_ITEMS) {
      const text = quoteText(item);
      const expected = Buffer.from(text, "base64").toString("hex");
      expect(bytesOf(decoder.decode(text)), `${item}, first`).to.equal(expected);
      // A copy of the text (another string object), as the next read of the same evidence would give.
      expect(bytesOf(decoder.decode(text.split("").join(""))), `${item}, remembered`).to.equal(expected);
    }
    expect(decoder.stats).to.deep.equal({ hits: QUOTE_ITEMS.length, misses: QUOTE_ITEMS.length });
  });

  it("never serves a remembered platform part for a text that differs in it", () => {
    const decoder = new QuoteTextDecoder(platformPartStart);
    const text = quoteText("tdx/dcapqvl-uptodate-v4");
    decoder.decode(text);
    const start = Math.ceil((platformPartStart(Buffer.from(text, "base64")) ?? 0) / 3) * 4;
    // Inside the fingerprint (first characters of the part), past it, and in the PCK chain near the end.
    for (const at of [start, start + 200, text.length - 200]) {
      expect(bytesOf(decoder.decode(text)), "the original").to.equal(
        Buffer.from(text, "base64").toString("hex"),
      );
      const changed = changedAt(text, at);
      const misses = decoder.stats.misses;
      expect(bytesOf(decoder.decode(changed)), `changed at ${at}`).to.equal(
        Buffer.from(changed, "base64").toString("hex"),
      );
      expect(decoder.stats.misses, `changed at ${at}: decoded afresh`).to.equal(misses + 1);
    }
  });

  it("refuses what is not standard padded base64, also where a remembered text would match", () => {
    const decoder = new QuoteTextDecoder(platformPartStart);
    const text = quoteText("tdx/dcapqvl-uptodate-v4");
    decoder.decode(text);
    const platform = Math.ceil((platformPartStart(Buffer.from(text, "base64")) ?? 0) / 3) * 4;
    const cases: [string, string][] = [
      ["a length that is not a multiple of 4", text.slice(0, -1)],
      ["a URL-safe character in the header", `-${text.slice(1)}`],
      [
        "a URL-safe character in the platform part",
        `${text.slice(0, platform + 8)}_${text.slice(platform + 9)}`,
      ],
      ["a line break in the body", `${text.slice(0, 100)}\n${text.slice(101)}`],
      ["padding inside the text", `${text.slice(0, 400)}=${text.slice(401)}`],
      ["a Latin-1 character", `${text.slice(0, 40)}\u00e9${text.slice(41)}`],
      [
        "a character above U+00FF whose low byte is a base64 letter",
        `${text.slice(0, 40)}\u0141${text.slice(41)}`,
      ],
      ["three padding characters", `${text.slice(0, -4)}A===`],
    ];
    for (const [name, bad] of cases) expect(decoder.decode(bad), name).to.equal(undefined);
  });

  it("decodes any bytes exactly, whatever the hint says (table of lengths and hints)", () => {
    const hints: ((head: Uint8Array) => number | undefined)[] = [
      () => undefined,
      () => 0,
      () => 1,
      () => 55,
      () => 10_000,
      () => -3,
      () => Number.NaN,
      () => 2.5,
    ];
    for (const hint of hints) {
      const decoder = new QuoteTextDecoder(hint, 4);
      for (const length of [0, 1, 2, 3, 4, 53, 54, 55, 56, 57, 100, 101, 102, 300]) {
        const bytes = randomBytes(length);
        const text = bytes.toString("base64");
        for (let round = 0; round < 2; round++) {
          expect(bytesOf(decoder.decode(text)), `${length} bytes, hint ${String(hint(bytes))}`).to.equal(
            bytes.toString("hex"),
          );
        }
      }
      expect(decoder.size).to.be.at.most(4);
    }
  });

  it("remembers nothing with maxEntries 0 and still decodes", () => {
    const decoder = new QuoteTextDecoder(platformPartStart, 0);
    const text = quoteText("tdx/dcapqvl-uptodate-v4");
    for (let round = 0; round < 2; round++) {
      expect(bytesOf(decoder.decode(text))).to.equal(Buffer.from(text, "base64").toString("hex"));
    }
    expect(decoder.size).to.equal(0);
    expect(decoder.stats).to.deep.equal({ hits: 0, misses: 2 });
  });
});
