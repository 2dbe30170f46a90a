/**
 * Text for a terminal from strings the evidence or the input chose (a bundle's declared TEE type, the versions a
 * guest reports, a JSON parser's excerpt): control characters (ESC sequences could rewrite the verdict line above
 * them, a CR or newline could forge a line) and bidirectional overrides (which reorder what is shown) are written
 * as visible \u escapes.
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
