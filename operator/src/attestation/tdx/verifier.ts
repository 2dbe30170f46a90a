/**
 * The TDX `TeeVerifier`: parse → quote/QE/PCK-chain signatures → collateral (bundle first, then the source) →
 * Intel TCB status. Never throws: every failure becomes an error entry and `authentic` stays false.
 */
import { timingSafeEqual } from "node:crypto";
import {
  EvidenceError,
  toVerificationError,
  type ErrorCode,
  type TeeEvidence,
  type TeeVerification,
  type TeeVerifier,
  type VerifyOptions,
} from "../types.ts";
import { certificateTimeErrors } from "./cert-chain.ts";
import { quoteClaims } from "./claims.ts";
import { bootClaimValues } from "./event-log/claims.ts";
import { verifyEventLog } from "./event-log/index.ts";
import { checkCollateral } from "./collateral-check.ts";
import { resolveCollateral } from "./collateral-resolve.ts";
import { VerificationMemo } from "./verification-memo.ts";
import { verifyPckChain } from "./pck-chain.ts";
import { parseTdxQuote, platformPartStart } from "./quote.ts";
import { QuoteTextDecoder } from "./quote-text.ts";
import { quoteSignatureErrors } from "./quote-signatures.ts";
import { evaluateTcbMemoized } from "./tcb-evaluation.ts";
import { intelTrustAnchors, type TdxTrustAnchors } from "./trust-anchors.ts";

export interface TdxVerifierOptions {
  /** Defaults to the pinned Intel anchors; tests inject a test root here, never evidence. */
  anchors?: TdxTrustAnchors;
  /** Verified chains and collateral, keyed by digest; shared by every quote this verifier sees. */
  memo?: VerificationMemo;
}

const AUTHENTICITY_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "EvidenceMalformed",
  "SignatureInvalid",
  "ChainInvalid",
  "CertificateExpired",
  "CertificateRevoked",
  "UnsupportedTee",
]);

/** Quote texts of every verifier in the process: what repeats across a platform's quotes is decoded once. */
const quoteText = new QuoteTextDecoder(platformPartStart);

/** The quote bytes of TDX evidence; throws UnsupportedTee / EvidenceMalformed. */
export function decodeQuote(evidence: TeeEvidence): Uint8Array {
  if (evidence.type !== "tdx") {
    throw new EvidenceError("UnsupportedTee", `evidence type ${evidence.type} is not tdx`);
  }
  if (evidence.quote === undefined || evidence.quote === "") {
    throw new EvidenceError("EvidenceMalformed", "no TDX quote in the evidence");
  }
  const bytes = quoteText.decode(evidence.quote);
  if (bytes === undefined) throw new EvidenceError("EvidenceMalformed", "TDX quote is not base64");
  return bytes;
}

export function createTdxVerifier(verifierOptions: TdxVerifierOptions = {}): TeeVerifier {
  const anchors = verifierOptions.anchors ?? intelTrustAnchors();
  const memo = verifierOptions.memo ?? new VerificationMemo();

  async function run(
    evidence: TeeEvidence,
    options: VerifyOptions,
    result: TeeVerification,
  ): Promise<boolean> {
    const { now } = options;
    if (Number.isNaN(now.getTime())) {
      throw new EvidenceError("EvidenceMalformed", "verification time is invalid");
    }
    const quote = parseTdxQuote(decodeQuote(evidence));
    result.claims = quoteClaims(quote);
    const expected = options.expectedReportData;
    if (
      expected !== undefined &&
      (expected.length !== 64 || !timingSafeEqual(expected, quote.body.reportData))
    ) {
      result.errors.push({
        code: "BindingMismatch",
        message: "REPORTDATA differs from the expected report data",
      });
    }
    const eventLog = verifyEventLog(evidence.eventLog, quote.body.rtmrs);
    result.claims.eventLog = eventLog.status;
    if (eventLog.claims !== undefined) Object.assign(result.claims, bootClaimValues(eventLog.claims));
    result.eventLog = eventLog;
    result.errors.push(...eventLog.errors);
    const pck = verifyPckChain(quote.pckCertChain, anchors, memo);
    result.claims.fmspc = pck.tcb.fmspc;
    result.claims.pceId = pck.tcb.pceId;
    result.errors.push(
      ...certificateTimeErrors([...pck.certificates, anchors.root], now, "PCK certificate chain"),
    );
    result.errors.push(...quoteSignatureErrors(quote, pck.leafKey));

    const resolved =
      options.collateral === undefined
        ? { collateral: evidence.collateral ?? {}, errors: [] }
        : await resolveCollateral(evidence.collateral, options.collateral, pck.tcb.fmspc, pck.tcb.caType);
    result.errors.push(...resolved.errors);
    const collateral = checkCollateral(
      resolved.collateral,
      pck,
      anchors,
      memo,
      now,
      options.collateralGraceMs,
    );
    result.errors.push(...collateral.errors);
    if (collateral.stale.length > 0) result.staleCollateral = collateral.stale;
    const { tcbInfo, qeIdentity } = collateral;
    if (tcbInfo !== undefined && qeIdentity !== undefined) {
      result.claims.tcbEvaluationDataNumber = Math.min(
        tcbInfo.tcbEvaluationDataNumber,
        qeIdentity.tcbEvaluationDataNumber,
      );
    }
    const authentic = !result.errors.some((error) => AUTHENTICITY_CODES.has(error.code));
    if (collateral.pckRevoked) result.tcbStatus = "Revoked";
    else if (authentic && collateral.usable && tcbInfo !== undefined && qeIdentity !== undefined) {
      const evaluation = evaluateTcbMemoized(quote, pck.tcb, tcbInfo, qeIdentity);
      result.tcbStatus = evaluation.status;
      result.advisoryIds = [...evaluation.advisoryIds];
      result.errors.push(...evaluation.errors);
      if (evaluation.tcbDate !== undefined) result.claims.tcbDate = evaluation.tcbDate;
      if (evaluation.qeStatus !== undefined) result.claims.qeTcbStatus = evaluation.qeStatus;
      if (evaluation.moduleStatus !== undefined) result.claims.tdxModuleTcbStatus = evaluation.moduleStatus;
      result.claims.tdRelaunchAdvised = evaluation.tdRelaunchAdvised;
    }
    return authentic;
  }

  return {
    type: "tdx",
    async verify(evidence: TeeEvidence, options: VerifyOptions): Promise<TeeVerification> {
      const result: TeeVerification = {
        type: "tdx",
        authentic: false,
        tcbStatus: "Unknown",
        advisoryIds: [],
        claims: {},
        errors: [],
      };
      try {
        result.authentic = await run(evidence, options, result);
      } catch (error) {
        result.errors.push(toVerificationError(error));
        result.authentic = false;
      }
      return result;
    },
  };
}

/** The TDX verifier with the pinned Intel anchors and a process-wide memo. */
export const tdxVerifier: TeeVerifier = createTdxVerifier();
