/**
 * TDX TCB drift early warning, end to end: the TD's quote and PCK chain and its standard collateral exactly as the
 * verifier takes them (resolveCollateral → checkCollateral), then Intel's early collateral (PCS `update=early`)
 * through the same checkCollateral, in place of the standard TCB info and QE identity, so it is trusted only on
 * the same terms: Intel's TCB Signing signature, a signer valid now and not revoked. Then the pure tcbDrift.
 */
import * as kinds from "../collateral/kinds.ts";
import {
  toVerificationError,
  type CollateralSource,
  type TeeEvidence,
  type VerificationError,
} from "../types.ts";
import { certificateTimeErrors } from "./cert-chain.ts";
import { checkCollateral } from "./collateral-check.ts";
import { resolveCollateral, type TdxCollateral } from "./collateral-resolve.ts";
import { verifyPckChain, type PckChain } from "./pck-chain.ts";
import { parseTdxQuote, type TdxQuote } from "./quote.ts";
import { quoteSignatureErrors } from "./quote-signatures.ts";
import { splitSignedJson } from "./signed-json.ts";
import { tcbDrift, type TcbDrift } from "./tcb-drift.ts";
import { verifyTcbEvaluationNumbers, type TcbEvaluationNumbers } from "./tcb-evaluation-numbers.ts";
import { intelTrustAnchors, type TdxTrustAnchors } from "./trust-anchors.ts";
import { VerificationMemo } from "./verification-memo.ts";
import { decodeQuote } from "./verifier.ts";

export interface TcbDriftCheckOptions {
  now: Date;
  /** The verifier's collateral source; undefined: the bundle's collateral only, as the verifier does then. */
  collateral?: CollateralSource;
  /**
   * Intel PCS/PCCS with `update=early`: TDX_TCB_INFO (+ issuer chain) for the FMSPC, TDX_QE_IDENTITY (+ chain),
   * and TCB_EVALUATION_NUMBERS (+ chain) under TDX_EVALUATION_NUMBERS_KEY. Items it lacks are simply absent.
   */
  early: CollateralSource;
  /** Defaults to the pinned Intel anchors. */
  anchors?: TdxTrustAnchors;
  memo?: VerificationMemo;
}

export interface TcbDriftCheck {
  /** Undefined: nothing to say (no early TCB info, it failed verification, or the TD is not authentic today). */
  drift?: TcbDrift;
  /** Why there may be no result: early collateral that failed verification, fetch failures. For logs. */
  errors: VerificationError[];
}

const defaultMemo = new VerificationMemo(256);

interface EarlyItems {
  collateral: TdxCollateral;
  evaluationNumbers?: { body: string; issuerChain?: string };
  errors: VerificationError[];
}

/** Fetches the early items; a missing item is absent, a failed fetch or unparsable body an error. */
async function fetchEarly(source: CollateralSource, fmspc: string): Promise<EarlyItems> {
  const fmspcKey = kinds.tcbInfoKey(fmspc);
  const errors: VerificationError[] = [];
  const get = async (kind: string, key: string): Promise<string | undefined> => {
    try {
      const bytes = await source.get(kind, key);
      return bytes === undefined ? undefined : Buffer.from(bytes).toString("utf8");
    } catch (error) {
      errors.push({
        code: "CollateralUnavailable",
        message: `early ${kind} ${key}: ${toVerificationError(error).message}`,
      });
      return undefined;
    }
  };
  const [tcbInfo, tcbChain, qeIdentity, qeChain, numbers, numbersChain] = await Promise.all([
    get(kinds.TDX_TCB_INFO, fmspcKey),
    get(kinds.TDX_TCB_INFO_ISSUER_CHAIN, fmspcKey),
    get(kinds.TDX_QE_IDENTITY, kinds.TD_QE_KEY),
    get(kinds.TDX_QE_IDENTITY_ISSUER_CHAIN, kinds.TD_QE_KEY),
    get(kinds.TCB_EVALUATION_NUMBERS, kinds.TDX_EVALUATION_NUMBERS_KEY),
    get(kinds.TCB_EVALUATION_NUMBERS_ISSUER_CHAIN, kinds.TDX_EVALUATION_NUMBERS_KEY),
  ]);
  const collateral: TdxCollateral = {};
  try {
    if (tcbInfo !== undefined) {
      const signed = splitSignedJson(tcbInfo, "tcbInfo", "early TCB info");
      Object.assign(collateral, { tcbInfo: signed.text, tcbInfoSignature: signed.signature });
      if (tcbChain !== undefined) collateral.tcbInfoIssuerChain = tcbChain;
    }
    if (qeIdentity !== undefined) {
      const signed = splitSignedJson(qeIdentity, "enclaveIdentity", "early QE identity");
      Object.assign(collateral, { qeIdentity: signed.text, qeIdentitySignature: signed.signature });
      if (qeChain !== undefined) collateral.qeIdentityIssuerChain = qeChain;
    }
  } catch (error) {
    errors.push(toVerificationError(error));
    return { collateral: {}, errors };
  }
  return {
    collateral,
    ...(numbers === undefined
      ? {}
      : {
          evaluationNumbers: {
            body: numbers,
            ...(numbersChain === undefined ? {} : { issuerChain: numbersChain }),
          },
        }),
    errors,
  };
}

/** The TD as the verifier authenticates it; undefined with errors when it is not authentic at `now`. */
function authenticQuote(
  evidence: TeeEvidence,
  anchors: TdxTrustAnchors,
  memo: VerificationMemo,
  now: Date,
): { quote?: TdxQuote; pck?: PckChain; errors: VerificationError[] } {
  try {
    const quote = parseTdxQuote(decodeQuote(evidence));
    const pck = verifyPckChain(quote.pckCertChain, anchors, memo);
    const errors = [
      ...certificateTimeErrors([...pck.certificates, anchors.root], now, "PCK certificate chain"),
      ...quoteSignatureErrors(quote, pck.leafKey),
    ];
    return errors.length === 0 ? { quote, pck, errors } : { errors };
  } catch (error) {
    return { errors: [toVerificationError(error)] };
  }
}

/**
 * Compares the TD's rating under Intel's standard collateral with its rating under the early collateral. Call it
 * for TDX evidence the verifier found authentic; it never throws.
 */
export async function checkTcbDrift(
  evidence: TeeEvidence,
  options: TcbDriftCheckOptions,
): Promise<TcbDriftCheck> {
  const { now } = options;
  const anchors = options.anchors ?? intelTrustAnchors();
  const memo = options.memo ?? defaultMemo;
  const { quote, pck, errors } = authenticQuote(evidence, anchors, memo, now);
  if (quote === undefined || pck === undefined) return { errors };

  const resolved =
    options.collateral === undefined
      ? { collateral: evidence.collateral ?? {}, errors: [] }
      : await resolveCollateral(evidence.collateral, options.collateral, pck.tcb.fmspc, pck.tcb.caType);
  const standard = checkCollateral(resolved.collateral, pck, anchors, memo, now);
  if (!standard.usable || standard.tcbInfo === undefined || standard.qeIdentity === undefined) {
    return { errors: [...resolved.errors, ...standard.errors] };
  }

  const fetched = await fetchEarly(options.early, pck.tcb.fmspc);
  if (fetched.collateral.tcbInfo === undefined) return { errors: fetched.errors };
  // The standard CRLs and issuer chains stay: the early documents are checked against the same revocation state.
  const early = checkCollateral({ ...resolved.collateral, ...fetched.collateral }, pck, anchors, memo, now);
  // Outside its window an early document is still authentic: tcbDrift reports it as ignored.
  const rejected = early.errors.filter((error) => error.code !== "CollateralExpired");
  if (rejected.length > 0 || early.tcbInfo === undefined || early.qeIdentity === undefined) {
    return { errors: [...fetched.errors, ...rejected] };
  }

  let evaluationNumbers: TcbEvaluationNumbers | undefined;
  const numbersErrors: VerificationError[] = [];
  if (fetched.evaluationNumbers !== undefined) {
    const { body, issuerChain } = fetched.evaluationNumbers;
    const verified = verifyTcbEvaluationNumbers(body, issuerChain, anchors, memo, now);
    evaluationNumbers = verified.numbers;
    numbersErrors.push(...verified.errors);
  }
  const drift = tcbDrift({
    quote,
    pck: pck.tcb,
    standard: { tcbInfo: standard.tcbInfo, qeIdentity: standard.qeIdentity },
    early: {
      tcbInfo: early.tcbInfo,
      ...(fetched.collateral.qeIdentity === undefined ? {} : { qeIdentity: early.qeIdentity }),
    },
    ...(evaluationNumbers === undefined ? {} : { evaluationNumbers }),
    now,
  });
  return { ...(drift === undefined ? {} : { drift }), errors: [...fetched.errors, ...numbersErrors] };
}
