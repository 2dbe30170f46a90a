/**
 * RTMR replay of a parsed CCEL against the quote's RTMRs (authenticated by the quote signature). An RTMR starts at
 * 48 zero bytes and each event of MR index i (1..4 → RTMR i-1) extends it: RTMR = SHA-384(RTMR ‖ digest).
 * EV_NO_ACTION events are not extended; MR index 0 (MRTD) is measured by the TDX module, not replayed.
 *
 * When the replay of an RTMR differs, the hash cannot say which event changed, so the mismatch is localised by what
 * the log itself can prove: an event whose digest is not the hash of its own data (a changed digest or changed
 * data), else a prefix of the RTMR's events that does reproduce the quote (events appended after what was
 * measured), else the events whose digest covers something outside the log, one of which changed (or one is
 * missing).
 */
import { hash, timingSafeEqual } from "node:crypto";
import type { VerificationError } from "../../types.ts";
import { toHex } from "../hex.ts";
import { claimsReadData, dataDigest, eventTypeName } from "./event-types.ts";
import { EV_NO_ACTION, type TdEvent } from "./parse.ts";

export const RTMR_COUNT = 4;
const ZERO_RTMR = new Uint8Array(48);

/** The RTMR (0..3) an event extends, or undefined for EV_NO_ACTION and MR index 0 (MRTD). */
export function rtmrOf(event: TdEvent): number | undefined {
  if (event.eventType === EV_NO_ACTION || event.mrIndex === 0) return undefined;
  return event.mrIndex - 1;
}

const extendInput = new Uint8Array(96);

export function extend(rtmr: Uint8Array, digest: Uint8Array): Uint8Array {
  extendInput.set(rtmr, 0);
  extendInput.set(digest, 48);
  return hash("sha384", extendInput, "buffer");
}

export function replayRtmrs(events: readonly TdEvent[]): Uint8Array[] {
  const rtmrs: Uint8Array[] = Array.from({ length: RTMR_COUNT }, () => ZERO_RTMR);
  for (const event of events) {
    const rtmr = rtmrOf(event);
    if (rtmr !== undefined && rtmr < RTMR_COUNT) rtmrs[rtmr] = extend(rtmrs[rtmr] ?? ZERO_RTMR, event.sha384);
  }
  return rtmrs;
}

/** A short human description of an event: its type and, for text data, the text. */
export function describeEvent(event: TdEvent): string {
  const type = eventTypeName(event.eventType);
  const text = Buffer.from(event.data).toString("latin1").replace(/\0+$/, "");
  const printable = /^[\x20-\x7e\n\t]*$/.test(text) && text.length > 0;
  const shown = printable
    ? ` "${text.length > 60 ? `${text.slice(0, 57)}...` : text}"`.replace(/\n/g, "\\n")
    : "";
  return `event ${event.index} (${type}${shown}, RTMR${String(rtmrOf(event) ?? "-")})`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function mismatch(message: string): VerificationError {
  return { code: "EventLogMismatch", message };
}

/** Events whose digest is not the hash of their own data: the data (or the digest) was changed. */
export function unboundEvents(events: readonly TdEvent[]): { event: TdEvent; expected: Buffer }[] {
  const unbound: { event: TdEvent; expected: Buffer }[] = [];
  for (const event of events) {
    const expected = dataDigest(event.eventType, event.data);
    if (expected !== undefined && !sameBytes(expected, event.sha384)) unbound.push({ event, expected });
  }
  return unbound;
}

function unboundError({ event, expected }: { event: TdEvent; expected: Buffer }): VerificationError {
  return mismatch(
    `${describeEvent(event)}: its SHA-384 digest ${toHex(event.sha384)} is not the digest of its event data ` +
      `(${toHex(expected)}); the digest or the data was changed`,
  );
}

/** Where the replay of one RTMR diverges from the quote, by what the log can prove. */
function localise(
  rtmr: number,
  events: readonly TdEvent[],
  quoted: Uint8Array,
  replayed: Uint8Array,
): string {
  const head = `RTMR${rtmr} replays to ${toHex(replayed)}, the quote has ${toHex(quoted)}`;
  let value: Uint8Array = ZERO_RTMR;
  for (const [position, event] of events.entries()) {
    value = extend(value, event.sha384);
    if (position < events.length - 1 && sameBytes(value, quoted)) {
      const next = events[position + 1];
      return `${head}: the quote matches the log up to ${describeEvent(event)}; ${next === undefined ? "" : describeEvent(next)} and the ${events.length - position - 1} event(s) after it were not measured`;
    }
  }
  const opaque = events.filter((event) => dataDigest(event.eventType, event.data) === undefined);
  const first = opaque[0];
  const rest = "or an event was added, removed or rewritten together with its digest";
  if (first === undefined) return `${head}: no event's digest contradicts its data; ${rest}`;
  return (
    `${head}: first possible divergence at ${describeEvent(first)}; no event's digest contradicts its data, so the ` +
    `digest of one of the events [${opaque.map((event) => String(event.index)).join(", ")}] (which cover data ` +
    `outside the log) changed, ${rest}`
  );
}

/** The EventLogMismatch errors of a log against the quote's RTMRs; none when every RTMR replays and every data-bound digest holds. */
export function replayErrors(
  events: readonly TdEvent[],
  quoteRtmrs: readonly Uint8Array[],
): VerificationError[] {
  const errors: VerificationError[] = [];
  const foreign = events.find((event) => (rtmrOf(event) ?? 0) >= RTMR_COUNT);
  if (foreign !== undefined) {
    errors.push(
      mismatch(
        `${describeEvent(foreign)} extends MR index ${foreign.mrIndex}, which maps to no RTMR (1..4 are RTMR0..3)`,
      ),
    );
  }
  const replayed = replayRtmrs(events);
  const replays = replayed.every((value, rtmr) => sameBytes(value, quoteRtmrs[rtmr] ?? ZERO_RTMR));
  // A log that replays needs the binding only where claims read data; one that does not, everywhere, to localise.
  const unbound = unboundEvents(
    replays ? events.filter((event) => claimsReadData(event.eventType, event.data)) : events,
  );
  errors.push(...unbound.map(unboundError));
  for (let rtmr = 0; rtmr < RTMR_COUNT; rtmr++) {
    const quoted = quoteRtmrs[rtmr] ?? ZERO_RTMR;
    const value = replayed[rtmr] ?? ZERO_RTMR;
    if (sameBytes(quoted, value)) continue;
    // A data-bound event whose digest changed is already named above, and explains this RTMR.
    if (unbound.some(({ event }) => rtmrOf(event) === rtmr)) continue;
    const own = events.filter((event) => rtmrOf(event) === rtmr);
    errors.push(mismatch(localise(rtmr, own, quoted, value)));
  }
  return errors;
}
