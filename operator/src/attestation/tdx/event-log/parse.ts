/**
 * Parser of the TCG PC Client crypto-agile event log as a TDX guest exposes it (the CCEL ACPI table's log area,
 * `/sys/firmware/acpi/tables/data/CCEL`): a TCG_PCClientPCREvent carrying the Spec ID event, then TCG_PCR_EVENT2
 * records. The MR index of a record is the CC measurement register: 0 = MRTD, 1..4 = RTMR0..3. The log area is
 * padded (0xFF or 0x00) after the last record; parsing stops at the first empty record. Every byte here is
 * unauthenticated until the replay matches the quote's RTMRs.
 */
import { EvidenceError } from "../../types.ts";

export const EV_NO_ACTION = 0x3;
export const ALG_SHA384 = 0x000c;

/** Digest sizes of the TCG algorithm registry's hash algorithms a Spec ID header may list. */
const KNOWN_ALGORITHMS = new Map<number, { name: string; size: number }>([
  [0x0004, { name: "sha1", size: 20 }],
  [0x000b, { name: "sha256", size: 32 }],
  [ALG_SHA384, { name: "sha384", size: 48 }],
  [0x000d, { name: "sha512", size: 64 }],
  [0x0012, { name: "sm3_256", size: 32 }],
]);

/** A log larger than a CCEL area can be (the ACPI table's LAML is 64 KiB..1 MiB in practice) is refused unread. */
export const MAX_EVENT_LOG_BYTES = 4 * 1024 * 1024;
export const MAX_EVENTS = 16384;

export interface TdEvent {
  /** 0-based position among the TCG_PCR_EVENT2 records (the Spec ID header is not counted). */
  index: number;
  /** Byte offset of the record in the log. */
  offset: number;
  /** CC measurement register index: 0 = MRTD, 1..4 = RTMR0..3. */
  mrIndex: number;
  eventType: number;
  /** The SHA-384 digest (every TDX log carries one: the header must list SHA-384). */
  sha384: Uint8Array;
  data: Uint8Array;
}

export interface ParsedEventLog {
  algorithms: { id: number; size: number }[];
  events: TdEvent[];
  /** Bytes of the log up to the end of the last record (the rest is padding). */
  length: number;
}

function malformed(message: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `tee.eventLog: ${message}`);
}

class Reader {
  private readonly view: DataView;
  readonly bytes: Uint8Array;
  offset = 0;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get remaining(): number {
    return this.bytes.length - this.offset;
  }
  need(count: number, what: string): void {
    if (count > this.remaining) {
      throw malformed(
        `truncated: ${what} needs ${count} bytes at offset ${this.offset}, only ${this.remaining} remain`,
      );
    }
  }
  /** The u32 `ahead` bytes past the offset, without moving; the caller checks there are enough bytes. */
  peekU32(ahead: number): number {
    return this.view.getUint32(this.offset + ahead, true);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }
  u16(what: string): number {
    this.need(2, what);
    const value = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return value;
  }
  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }
  take(count: number, what: string): Uint8Array {
    this.need(count, what);
    const slice = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }
}

const SPEC_ID_SIGNATURE = "Spec ID Event03\0";

/** The Spec ID header (a SHA-1-format TCG_PCClientPCREvent of type EV_NO_ACTION): the digest algorithms and sizes. */
function parseSpecIdHeader(reader: Reader): { id: number; size: number }[] {
  reader.u32("the header's MR index");
  const type = reader.u32("the header's event type");
  if (type !== EV_NO_ACTION) {
    throw malformed(
      `the first record has event type 0x${type.toString(16)}, not EV_NO_ACTION (a Spec ID event)`,
    );
  }
  reader.take(20, "the header's SHA-1 digest");
  const size = reader.u32("the header's event size");
  const event = new Reader(reader.take(size, "the Spec ID event"));
  const signature = Buffer.from(event.take(16, "the Spec ID signature")).toString("latin1");
  if (signature !== SPEC_ID_SIGNATURE) {
    throw malformed(
      `the header is not a crypto-agile Spec ID event (signature ${JSON.stringify(signature)})`,
    );
  }
  event.take(8, "the Spec ID platform class and version");
  const count = event.u32("the Spec ID algorithm count");
  if (count === 0 || count > KNOWN_ALGORITHMS.size) {
    throw malformed(`the Spec ID header lists ${count} digest algorithms`);
  }
  const algorithms: { id: number; size: number }[] = [];
  for (let i = 0; i < count; i++) {
    const id = event.u16("a Spec ID algorithm ID");
    const size = event.u16("a Spec ID digest size");
    const known = KNOWN_ALGORITHMS.get(id);
    if (known === undefined)
      throw malformed(
        `the Spec ID header lists unknown digest algorithm 0x${id.toString(16).padStart(4, "0")}`,
      );
    if (known.size !== size) {
      throw malformed(`the Spec ID header gives ${known.name} a digest size of ${size}, not ${known.size}`);
    }
    if (algorithms.some((algorithm) => algorithm.id === id)) {
      throw malformed(`the Spec ID header lists ${known.name} twice`);
    }
    algorithms.push({ id, size });
  }
  if (!algorithms.some((algorithm) => algorithm.id === ALG_SHA384)) {
    throw malformed("the Spec ID header lists no SHA-384 digest, which TDX RTMRs use");
  }
  return algorithms;
}

/** An empty record (all 0x00 or all 0xFF MR index and type) is where the used part of the log area ends. */
function atPadding(reader: Reader): boolean {
  if (reader.remaining < 8) return reader.bytes.subarray(reader.offset).every((b) => b === 0 || b === 0xff);
  const mrIndex = reader.peekU32(0);
  const type = reader.peekU32(4);
  return (mrIndex === 0xffffffff && type === 0xffffffff) || (mrIndex === 0 && type === 0);
}

function parseEvent(reader: Reader, index: number, algorithms: { id: number; size: number }[]): TdEvent {
  const offset = reader.offset;
  const what = `event ${index} (offset ${offset})`;
  const mrIndex = reader.u32(`${what} MR index`);
  const eventType = reader.u32(`${what} event type`);
  const count = reader.u32(`${what} digest count`);
  if (count !== algorithms.length) {
    throw malformed(`${what} has ${count} digests, the Spec ID header lists ${algorithms.length} algorithms`);
  }
  let sha384: Uint8Array | undefined;
  for (let i = 0; i < count; i++) {
    const id = reader.u16(`${what} digest algorithm`);
    const algorithm = algorithms.find((candidate) => candidate.id === id);
    if (algorithm === undefined) {
      throw malformed(
        `${what} has a digest of algorithm 0x${id.toString(16).padStart(4, "0")}, which the Spec ID header does not list`,
      );
    }
    const digest = reader.take(algorithm.size, `${what} digest`);
    if (id === ALG_SHA384) sha384 = digest;
  }
  if (sha384 === undefined) throw malformed(`${what} has no SHA-384 digest`);
  const size = reader.u32(`${what} event size`);
  const data = reader.take(size, `${what} event data of ${size} bytes`);
  return { index, offset, mrIndex, eventType, sha384, data };
}

/** Parses a CCEL log area; throws EvidenceError (EvidenceMalformed / EvidenceTooLarge) naming what is wrong. */
export function parseEventLog(bytes: Uint8Array): ParsedEventLog {
  if (bytes.length > MAX_EVENT_LOG_BYTES) {
    throw new EvidenceError(
      "EvidenceTooLarge",
      `tee.eventLog is ${bytes.length} bytes, more than a CCEL area can be (${MAX_EVENT_LOG_BYTES})`,
    );
  }
  const reader = new Reader(bytes);
  const algorithms = parseSpecIdHeader(reader);
  const events: TdEvent[] = [];
  let length = reader.offset;
  while (reader.remaining > 0 && !atPadding(reader)) {
    if (events.length === MAX_EVENTS) throw malformed(`more than ${MAX_EVENTS} events`);
    events.push(parseEvent(reader, events.length, algorithms));
    length = reader.offset;
  }
  return { algorithms, events, length };
}
