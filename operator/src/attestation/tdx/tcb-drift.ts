/**
 * TCB drift: how Intel's next TCB evaluation (PCS `update=early`, a higher tcbEvaluationDataNumber) will rate a TD
 * once it becomes the standard one, compared with today's rating. Pure: both collateral sets come in
 * signature-verified (tcb-drift-check.ts), and both ratings come from the verifier's own evaluateTcbMemoized.
 */
import type { TcbStatus } from "../types.ts";
import type { PckTcb } from "./pck-certificate.ts";
import type { TdxQuote } from "./quote.ts";
import { evaluateTcbMemoized, type TcbEvaluation } from "./tcb-evaluation.ts";
import { expectedStandardFrom, type TcbEvaluationNumbers } from "./tcb-evaluation-numbers.ts";
import type { QeIdentity, TcbInfo } from "./tcb-info.ts";

export interface TcbDriftInput {
  /** The parsed quote and its PCK certificate's TCB, as the verifier saw them. */
  quote: TdxQuote;
  pck: PckTcb;
  /** The collateral the verifier rated the TD with (PCS `update=standard` or the bundle's), verified. */
  standard: { tcbInfo: TcbInfo; qeIdentity: QeIdentity };
  /** Intel's early TCB info (and TD_QE identity, when PCS served one), verified; undefined when there is none. */
  early?: { tcbInfo: TcbInfo; qeIdentity?: QeIdentity };
  /** Verified TCB evaluation data numbers: they date the switch. */
  evaluationNumbers?: TcbEvaluationNumbers;
  now: Date;
}

export interface TcbRating {
  status: TcbStatus;
  evaluationDataNumber: number;
  advisoryIds: string[];
}

export interface TcbDrift {
  /** The early evaluation rates the TD worse than (or differently from, but no better than) the standard one. */
  drifting: boolean;
  /** False when the early TCB info was not compared: another platform, outside its window, or no rating. */
  compared: boolean;
  current: TcbRating;
  /** `Unknown` when not compared. */
  coming: TcbRating;
  /** When the standard collateral is expected to switch to the early evaluation (only for a newer one). */
  switchDate?: Date;
  /** For people: what was compared and what came out. */
  reason: string;
}

/**
 * How much a status withholds, for comparison only: a higher number is worse. Hardening and configuration needs
 * are incomparable and share a rank. Unknown (no rating) is not ranked.
 */
const SEVERITY: Readonly<Record<TcbStatus, number | undefined>> = {
  UpToDate: 0,
  SWHardeningNeeded: 1,
  ConfigurationNeeded: 1,
  ConfigurationAndSWHardeningNeeded: 2,
  OutOfDate: 3,
  OutOfDateConfigurationNeeded: 4,
  NotSupported: 5,
  Revoked: 6,
  Unknown: undefined,
};

/**
 * Whether going from `current` to `coming` is a drop worth a warning: a different status that is no better.
 * Undefined when either cannot be ranked.
 */
export function tcbStatusWorsens(current: TcbStatus, coming: TcbStatus): boolean | undefined {
  const from = SEVERITY[current];
  const to = SEVERITY[coming];
  if (from === undefined || to === undefined) return undefined;
  return coming !== current && to >= from;
}

const day = (date: Date): string => date.toISOString().slice(0, 10);

function rating(evaluation: TcbEvaluation, info: TcbInfo): TcbRating {
  return {
    status: evaluation.status,
    evaluationDataNumber: info.tcbEvaluationDataNumber,
    advisoryIds: [...evaluation.advisoryIds],
  };
}

/** Why the early TCB info cannot be compared with the standard one, if it cannot. */
function earlyRefusal(standard: TcbInfo, early: TcbInfo, now: Date): string | undefined {
  if (early.id !== standard.id || early.fmspc !== standard.fmspc || early.pceId !== standard.pceId) {
    return (
      `early TCB info is ${early.id} for FMSPC ${early.fmspc}/PCEID ${early.pceId}, the standard one ` +
      `${standard.id} for ${standard.fmspc}/${standard.pceId}: not compared`
    );
  }
  if (now < early.issueDate || now >= early.nextUpdate) {
    return (
      `early TCB info (evaluation ${early.tcbEvaluationDataNumber}) is valid ` +
      `${early.issueDate.toISOString()}..${early.nextUpdate.toISOString()}, not at ${now.toISOString()}: ignored`
    );
  }
  return undefined;
}

/** The early TD_QE identity when it is current and newer than the standard one, else the standard one. */
function comingQeIdentity(standard: QeIdentity, early: QeIdentity | undefined, now: Date): QeIdentity {
  if (early === undefined || now < early.issueDate || now >= early.nextUpdate) return standard;
  return early.tcbEvaluationDataNumber > standard.tcbEvaluationDataNumber ? early : standard;
}

function driftReason(current: TcbRating, coming: TcbRating, switchDate: Date | undefined, now: Date): string {
  const when =
    switchDate === undefined
      ? "not yet the standard"
      : `expected to apply ${switchDate > now ? "from" : "since"} ${day(switchDate)}`;
  const known = new Set(current.advisoryIds);
  const added = coming.advisoryIds.filter((id) => !known.has(id));
  return (
    `TCB evaluation ${coming.evaluationDataNumber} (${when}) rates this TD ${coming.status} ` +
    `(today ${current.status} under evaluation ${current.evaluationDataNumber})` +
    (added.length === 0 ? "" : `; new advisories ${added.join(", ")}`)
  );
}

/**
 * Rates the TD under the standard and the early collateral and says whether the early one will drop it.
 * Undefined when there is no early TCB info: nothing to warn about, and not an error.
 */
export function tcbDrift(input: TcbDriftInput): TcbDrift | undefined {
  const { quote, pck, standard, early, now } = input;
  if (early === undefined) return undefined;
  const today = evaluateTcbMemoized(quote, pck, standard.tcbInfo, standard.qeIdentity);
  const current = rating(today, standard.tcbInfo);
  const refusal = earlyRefusal(standard.tcbInfo, early.tcbInfo, now);
  if (refusal !== undefined) {
    const coming: TcbRating = {
      status: "Unknown",
      evaluationDataNumber: early.tcbInfo.tcbEvaluationDataNumber,
      advisoryIds: [],
    };
    return { drifting: false, compared: false, current, coming, reason: refusal };
  }
  const qeIdentity = comingQeIdentity(standard.qeIdentity, early.qeIdentity, now);
  const evaluation = evaluateTcbMemoized(quote, pck, early.tcbInfo, qeIdentity);
  const coming = rating(evaluation, early.tcbInfo);
  if (coming.evaluationDataNumber <= current.evaluationDataNumber) {
    return {
      drifting: false,
      compared: true,
      current,
      coming,
      reason:
        `Intel's early TCB evaluation ${coming.evaluationDataNumber} is not newer than the standard ` +
        `${current.evaluationDataNumber}: nothing is coming`,
    };
  }
  const switchDate = expectedStandardFrom(input.evaluationNumbers, coming.evaluationDataNumber);
  const dated = switchDate === undefined ? {} : { switchDate };
  const worsens = tcbStatusWorsens(current.status, coming.status);
  if (worsens === undefined) {
    const why = [...today.errors, ...evaluation.errors].map((error) => error.message).join("; ");
    return {
      drifting: false,
      compared: false,
      current,
      coming,
      ...dated,
      reason:
        `TCB evaluation ${coming.evaluationDataNumber} gives no rating to compare ` +
        `(${coming.status} against today's ${current.status})${why === "" ? "" : `: ${why}`}`,
    };
  }
  return {
    drifting: worsens,
    compared: true,
    current,
    coming,
    ...dated,
    reason: worsens
      ? driftReason(current, coming, switchDate, now)
      : `TCB evaluation ${coming.evaluationDataNumber} rates this TD ${coming.status}, no worse than today's ` +
        `${current.status} under evaluation ${current.evaluationDataNumber}`,
  };
}
