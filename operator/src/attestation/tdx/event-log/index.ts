/**
 * The TDX event log of a bundle (`tee.eventLog`, base64 of the CCEL area): parse → replay against the quote's
 * RTMRs. Never throws; a malformed log is an error like a replay mismatch, and no events are reported from it.
 */
import { toVerificationError, type VerificationError } from "../../types.ts";
import { eventLogClaims, type EventLogClaims } from "./claims.ts";
import { parseEventLog, type TdEvent } from "./parse.ts";
import { replayErrors } from "./replay.ts";

export type { TdEvent } from "./parse.ts";

export interface EventLogVerification {
  /** `replayed`: parsed and every RTMR matches; `mismatch`/`malformed`: see errors; `absent`: the bundle has none. */
  status: "replayed" | "mismatch" | "malformed" | "absent";
  events: TdEvent[];
  errors: VerificationError[];
  /** What booted, from a log that replayed. */
  claims?: EventLogClaims;
}

function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, "base64");
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return text.length % 4 === 0 && bytes.length === (text.length / 4) * 3 - padding ? bytes : undefined;
}

export function verifyEventLog(
  eventLog: string | undefined,
  quoteRtmrs: readonly Uint8Array[],
): EventLogVerification {
  if (eventLog === undefined) return { status: "absent", events: [], errors: [] };
  const bytes = decodeBase64(eventLog);
  if (bytes === undefined) {
    return {
      status: "malformed",
      events: [],
      errors: [{ code: "EvidenceMalformed", message: "tee.eventLog is not base64" }],
    };
  }
  try {
    const { events } = parseEventLog(bytes);
    const errors = replayErrors(events, quoteRtmrs);
    if (errors.length > 0) return { status: "mismatch", events: [], errors };
    return { status: "replayed", events, errors, claims: eventLogClaims(events) };
  } catch (error) {
    return { status: "malformed", events: [], errors: [toVerificationError(error)] };
  }
}
