/**
 * Serialises a TCG crypto-agile event log (Spec ID header + TCG_PCR_EVENT2 records) from parsed events, so tests can
 * build logs of chosen shapes (and bad ones) from the real GCP events, and the RTMRs such a log replays to.
 */
import { ALG_SHA384, type TdEvent } from "../../../src/attestation/tdx/event-log/parse.ts";
import { replayRtmrs } from "../../../src/attestation/tdx/event-log/replay.ts";

export interface BuildOptions {
  /** The Spec ID header's algorithms; default SHA-384 only. Events carry a zero digest for the others. */
  algorithms?: { id: number; size: number }[];
  /** Bytes appended after the last record (the CCEL area's padding); default none. */
  padding?: Uint8Array;
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value >>> 0);
  return buffer;
}

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16LE(value);
  return buffer;
}

export function specIdHeader(algorithms: { id: number; size: number }[]): Buffer {
  const event = Buffer.concat([
    Buffer.from("Spec ID Event03\0", "latin1"),
    u32(0), // platform class
    Buffer.from([0, 2, 0, 2]), // version minor, major, errata, uintnSize
    u32(algorithms.length),
    ...algorithms.flatMap((algorithm) => [u16(algorithm.id), u16(algorithm.size)]),
    Buffer.from([0]), // vendor info size
  ]);
  return Buffer.concat([u32(1), u32(3), Buffer.alloc(20), u32(event.length), event]);
}

export function eventRecord(
  event: Pick<TdEvent, "mrIndex" | "eventType" | "sha384" | "data">,
  algorithms: { id: number; size: number }[] = [{ id: ALG_SHA384, size: 48 }],
): Buffer {
  const digests = algorithms.flatMap((algorithm) => [
    u16(algorithm.id),
    algorithm.id === ALG_SHA384 ? Buffer.from(event.sha384) : Buffer.alloc(algorithm.size),
  ]);
  return Buffer.concat([
    u32(event.mrIndex),
    u32(event.eventType),
    u32(algorithms.length),
    ...digests,
    u32(event.data.length),
    Buffer.from(event.data),
  ]);
}

export function buildEventLog(
  events: readonly Pick<TdEvent, "mrIndex" | "eventType" | "sha384" | "data">[],
  options: BuildOptions = {},
): Buffer {
  const algorithms = options.algorithms ?? [{ id: ALG_SHA384, size: 48 }];
  return Buffer.concat([
    specIdHeader(algorithms),
    ...events.map((event) => eventRecord(event, algorithms)),
    Buffer.from(options.padding ?? new Uint8Array()),
  ]);
}

/** The RTMRs a quote would carry for these events (what the log replays to). */
export function rtmrsOf(events: readonly TdEvent[]): Uint8Array[] {
  return replayRtmrs(events);
}
