import { EvidenceError } from "../attestation/types.ts";

/** Bounds-checked little-endian reader; every overrun is an `EvidenceMalformed` EvidenceError. */
export class ByteReader {
  readonly bytes: Uint8Array;
  offset: number;
  /** What is being read, for the error message: "quote", "SPDM evidence". */
  readonly #subject: string;

  constructor(bytes: Uint8Array, subject: string, offset = 0) {
    this.bytes = bytes;
    this.#subject = subject;
    this.offset = offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  #need(count: number, what: string): void {
    if (count < 0 || this.offset + count > this.bytes.length) {
      throw new EvidenceError(
        "EvidenceMalformed",
        `${this.#subject} truncated: ${what} needs ${count} bytes at offset ${this.offset}, ${Math.max(this.remaining, 0)} left`,
      );
    }
  }

  u8(what: string): number {
    this.#need(1, what);
    return this.bytes[this.offset++] ?? 0;
  }

  u16(what: string): number {
    this.#need(2, what);
    const { bytes, offset } = this;
    this.offset += 2;
    return (bytes[offset] ?? 0) | ((bytes[offset + 1] ?? 0) << 8);
  }

  u24(what: string): number {
    this.#need(3, what);
    const { bytes, offset } = this;
    this.offset += 3;
    return (bytes[offset] ?? 0) | ((bytes[offset + 1] ?? 0) << 8) | ((bytes[offset + 2] ?? 0) << 16);
  }

  u32(what: string): number {
    this.#need(4, what);
    const { bytes, offset } = this;
    this.offset += 4;
    return (
      ((bytes[offset] ?? 0) |
        ((bytes[offset + 1] ?? 0) << 8) |
        ((bytes[offset + 2] ?? 0) << 16) |
        ((bytes[offset + 3] ?? 0) << 24)) >>>
      0
    );
  }

  /** A view (not a copy) of the next `count` bytes. */
  take(count: number, what: string): Uint8Array {
    this.#need(count, what);
    const slice = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }
}
