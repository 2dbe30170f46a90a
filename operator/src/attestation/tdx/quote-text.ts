/**
 * The bytes of a TDX quote from its base64 text, without Node's base64 decoder on the warm path.
 *
 * Why: Node 24 decodes base64 with simdutf, which picks AVX-512 kernels on CPUs that have them. On such a CPU (this
 * project's Sapphire Rapids machine) even a 64-character decode lowers the core's clock for the next ~millisecond,
 * and the two P-256 verifies that follow it ran ~8 µs (6 %) slower per quote (bench/tdx-verify.ts, interleaved).
 * So the quote is decoded in JavaScript, and the part that repeats across every quote of one platform (after the
 * quote signature: attestation key, QE report, PCK certificate chain; ~5.9 KB of ~6.7 KB) is taken from a memo
 * keyed by its exact text: a hit costs one string comparison. The result is byte for byte what a strict decoder gives; only standard, padded base64 is accepted.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** 6-bit value of each ASCII code, -1 for every other character (so a shifted OR of four values goes negative). */
const VALUE = new Int32Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

/**
 * Decodes the whole 4-character groups text[from, to) into `out` at byte `at`. False if a character lies outside
 * the standard alphabet ("=" included: padding belongs to the last group only).
 */
function decodeGroups(text: string, from: number, to: number, out: Uint8Array, at: number): boolean {
  let wide = 0;
  let invalid = 0;
  for (let i = from, o = at; i < to; i += 4, o += 3) {
    const c0 = text.charCodeAt(i);
    const c1 = text.charCodeAt(i + 1);
    const c2 = text.charCodeAt(i + 2);
    const c3 = text.charCodeAt(i + 3);
    wide |= c0 | c1 | c2 | c3;
    const v =
      ((VALUE[c0 & 127] ?? -1) << 18) |
      ((VALUE[c1 & 127] ?? -1) << 12) |
      ((VALUE[c2 & 127] ?? -1) << 6) |
      (VALUE[c3 & 127] ?? -1);
    invalid |= v;
    out[o] = v >> 16;
    out[o + 1] = v >> 8;
    out[o + 2] = v;
  }
  return wide < 128 && invalid >= 0;
}

/** The last group, "xx==" or "xxx=", into `out` at `at`; false if it is not one. */
function decodePaddedGroup(text: string, out: Uint8Array, at: number, padding: 1 | 2): boolean {
  let bits = 0;
  for (let k = 0; k < 4 - padding; k++) {
    const code = text.charCodeAt(text.length - 4 + k);
    const value = code < 128 ? (VALUE[code] ?? -1) : -1;
    if (value < 0) return false;
    bits = (bits << 6) | value;
  }
  // 12 bits hold one byte (and 4 spare bits), 18 bits two bytes (and 2).
  if (padding === 2) out[at] = bits >> 4;
  else {
    out[at] = bits >> 10;
    out[at + 1] = bits >> 2;
  }
  return true;
}

/** Where the bytes that repeat across one platform's quotes start, from the first HEAD bytes; undefined if unknown. */
export type StableFrom = (head: Uint8Array) => number | undefined;

interface Remembered {
  /** text[start..] of the last whole group, exactly. */
  text: string;
  bytes: Uint8Array;
}

/** Characters decoded before `stableFrom` is asked: 54 bytes, a quote's header and a v5 body's type and size. */
const HEAD_CHARACTERS = 72;
const FINGERPRINT_CHARACTERS = 64;

export class QuoteTextDecoder {
  readonly #stableFrom: StableFrom;
  readonly #maxEntries: number;
  /** Keyed by the stable part's start, length and first characters; the full text decides. */
  readonly #remembered = new Map<string, Remembered>();
  readonly stats = { hits: 0, misses: 0 };

  constructor(stableFrom: StableFrom, maxEntries = 512) {
    this.#stableFrom = stableFrom;
    this.#maxEntries = maxEntries;
  }

  /** The bytes, or undefined when the text is not standard padded base64. */
  decode(text: string): Uint8Array | undefined {
    const n = text.length;
    if (n % 4 !== 0) return undefined;
    const padding: 0 | 1 | 2 =
      n === 0 || text.charCodeAt(n - 1) !== 61 ? 0 : text.charCodeAt(n - 2) === 61 ? 2 : 1;
    const whole = padding === 0 ? n : n - 4;
    const out = Buffer.allocUnsafe((n / 4) * 3 - padding);
    if (padding !== 0 && !decodePaddedGroup(text, out, (whole / 4) * 3, padding)) return undefined;

    const head = Math.min(whole, HEAD_CHARACTERS);
    if (!decodeGroups(text, 0, head, out, 0)) return undefined;
    const stableByte = this.#stableFrom(out.subarray(0, (head / 4) * 3));
    // The stable part starts at the first whole group inside it; anything unreadable is decoded in full.
    const start =
      stableByte === undefined || !Number.isSafeInteger(stableByte) || stableByte < 0
        ? whole
        : Math.min(whole, Math.max(head, Math.ceil(stableByte / 3) * 4));
    if (!decodeGroups(text, head, start, out, (head / 4) * 3)) return undefined;
    if (start === whole) return out;

    const key = `${start}|${whole - start}|${text.slice(start, start + FINGERPRINT_CHARACTERS)}`;
    const known = this.#remembered.get(key);
    const rest = text.slice(start, whole);
    if (known !== undefined && known.text === rest) {
      this.stats.hits++;
      out.set(known.bytes, (start / 4) * 3);
      return out;
    }
    this.stats.misses++;
    if (!decodeGroups(text, start, whole, out, (start / 4) * 3)) return undefined;
    if (this.#maxEntries > 0) {
      if (this.#remembered.size >= this.#maxEntries) {
        const oldest = this.#remembered.keys().next();
        if (oldest.done !== true) this.#remembered.delete(oldest.value);
      }
      // Copies of both: the memo must not keep the caller's whole quote text or buffer alive.
      this.#remembered.set(key, {
        text: rest.split("").join(""),
        bytes: Uint8Array.from(out.subarray((start / 4) * 3, (whole / 4) * 3)),
      });
    }
    return out;
  }

  get size(): number {
    return this.#remembered.size;
  }
}
