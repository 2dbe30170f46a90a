/**
 * The reference values of one known-good TDX boot: the launch registers a policy should pin (MRTD, MRSEAM, RTMR0)
 * and the event-level claims of its replayed event log (kernel, initrd, command line, Secure Boot variables). From
 * an evidence bundle (the quote is parsed and the log must replay to its RTMRs) or from `trustgate verify` output
 * (its tee.claims and tee.events). RTMR1/RTMR2 are not pinned: the event-level claims say the same, event by event.
 */
import type { Appraisal } from "../appraise.ts";
import {
  eventLogClaims,
  eventRows,
  SECURE_BOOT_VARIABLES,
  type EventRow,
  type SecureBootVariable,
} from "../tdx/event-log/claims.ts";
import { verifyEventLog } from "../tdx/event-log/index.ts";
import { toHex } from "../tdx/hex.ts";
import { parseTdxQuote } from "../tdx/quote.ts";
import { decodeQuote } from "../tdx/verifier.ts";
import { EvidenceError, type EvidenceBundle } from "../types.ts";

export interface EventReference {
  /** The event's index in the log and what it is, for the comment next to the pinned value. */
  event: string;
  value: string;
}

export interface TdxReferenceValues {
  mrTd: string;
  mrSeam: string;
  rtmr0: string;
  kernel?: EventReference;
  initrd: EventReference[];
  cmdline?: EventReference;
  secureBootVariables: Partial<Record<SecureBootVariable, EventReference>>;
  secureBoot?: boolean;
  /** Events the claims do not classify: with any, `unknownEvents: deny` would refuse this very boot. */
  unknown: EventReference[];
  /** Why the event-level claims are missing (no event log), when they are. */
  noEvents?: string;
}

function rowReference(row: EventRow, value = row.digest): EventReference {
  return { event: `event ${row.index}, ${row.type}, RTMR${row.rtmr}`, value };
}

function fromRows(rows: readonly EventRow[]): Omit<TdxReferenceValues, "mrTd" | "mrSeam" | "rtmr0"> {
  const kernel = rows.find((row) => row.claim === "kernel");
  const cmdline = rows.filter((row) => row.claim === "cmdline").at(-1);
  const secureBootVariables: TdxReferenceValues["secureBootVariables"] = {};
  for (const name of SECURE_BOOT_VARIABLES) {
    const row = rows.find((candidate) => candidate.claim === `secureBootVariable:${name}`);
    if (row !== undefined) secureBootVariables[name] = rowReference(row);
  }
  const secureBootRow = rows.find((row) => row.claim === "secureBootVariable:SecureBoot");
  return {
    ...(kernel === undefined ? {} : { kernel: rowReference(kernel) }),
    initrd: rows.filter((row) => row.claim === "initrd").map((row) => rowReference(row)),
    ...(cmdline?.value === undefined ? {} : { cmdline: rowReference(cmdline, cmdline.value) }),
    secureBootVariables,
    unknown: rows.filter((row) => row.claim === "unknown").map((row) => rowReference(row)),
    ...(secureBootRow?.value === undefined ? {} : { secureBoot: secureBootRow.value === "SecureBoot=1" }),
  };
}

/** From an evidence bundle: parse the quote, replay the log; a log that does not replay is refused. */
export function tdxReferenceValuesFromBundle(bundle: EvidenceBundle): TdxReferenceValues {
  const quote = parseTdxQuote(decodeQuote(bundle.tee));
  const registers = {
    mrTd: toHex(quote.body.mrTd),
    mrSeam: toHex(quote.body.mrSeam),
    rtmr0: toHex(quote.body.rtmrs[0]),
  };
  const log = verifyEventLog(bundle.tee.eventLog, quote.body.rtmrs);
  if (log.status === "absent") {
    return {
      ...registers,
      initrd: [],
      secureBootVariables: {},
      unknown: [],
      noEvents: "the bundle carries no event log (tee.eventLog)",
    };
  }
  if (log.status !== "replayed") {
    throw new EvidenceError(
      log.errors[0]?.code ?? "EventLogMismatch",
      `the bundle's event log cannot give reference values: ${log.errors.map((error) => error.message).join("; ")}`,
    );
  }
  return { ...registers, ...fromRows(eventRows(eventLogClaims(log.events))) };
}

/** From `trustgate verify` output: its claims and per-event rows (only a verified, replayed log has rows). */
export function tdxReferenceValuesFromAppraisal(report: Appraisal): TdxReferenceValues {
  const { claims } = report.tee;
  const hex = (name: string): string => {
    const value = claims[name];
    if (typeof value !== "string" || !/^[0-9a-f]{96}$/.test(value)) {
      throw new EvidenceError(
        "EvidenceMalformed",
        `the verify output has no tee.claims.${name} (48 bytes of hex)`,
      );
    }
    return value;
  };
  const registers = { mrTd: hex("mrTd"), mrSeam: hex("mrSeam"), rtmr0: hex("rtmr0") };
  const rows = report.tee.events;
  if (rows === undefined || claims["eventLog"] !== "replayed") {
    return {
      ...registers,
      initrd: [],
      secureBootVariables: {},
      unknown: [],
      noEvents: `the verify output has no replayed event log (tee.claims.eventLog: ${JSON.stringify(claims["eventLog"] ?? "absent")})`,
    };
  }
  return { ...registers, ...fromRows(rows) };
}
