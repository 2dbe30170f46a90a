import { EvidenceError } from "../types.ts";

/** Bounds-checked little-endian reader; every overrun is an `EvidenceMalformed` EvidenceError. */
export class ByteReader {
  readonly bytes: Uint8Array;
  offset: number;
  readonly #view: DataView;

  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes;
    this.offset = offset;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  #need(count: number, what: string): void {
    if (count < 0 || this.offset + count > this.bytes.length) {
      throw new EvidenceError(
        "EvidenceMalformed",
        `quote truncated: ${what} needs ${count} bytes at offset ${this.offset}, ${Math.max(this.remaining, 0)} left`,
      );
    }
  }

  u16(what: string): number {
    this.#need(2, what);
    const value = this.#view.getUint16(this.offset, true);
    this.offset += 2;
    return value;
  }

  u32(what: string): number {
    this.#need(4, what);
    const value = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  /** A view (not a copy) of the next `count` bytes. */
  take(count: number, what: string): Uint8Array {
    this.#need(count, what);
    const slice = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }
}
