import { EvidenceError } from "../types.ts";

/** Bounds-checked little-endian reader over SPDM messages; every overrun is `EvidenceMalformed`. */
export class ByteCursor {
  readonly bytes: Uint8Array;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes;
    this.offset = offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  #need(count: number, what: string): void {
    if (this.offset + count > this.bytes.length) {
      throw new EvidenceError(
        "EvidenceMalformed",
        `SPDM evidence truncated: ${what} needs ${count} bytes at offset ${this.offset}, ${this.remaining} left`,
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

  /** A view (not a copy) of the next `count` bytes. */
  take(count: number, what: string): Uint8Array {
    this.#need(count, what);
    const slice = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }
}
