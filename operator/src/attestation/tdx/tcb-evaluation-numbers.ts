/**
 * Intel's TCB evaluation data numbers (PCS v4 `/tdx/certification/v4/tcbevaluationdatanumbers`): for each TCB
 * recovery (TCB-R) event, its number, the date Intel first published its collateral (`tcbRecoveryEventDate`) and
 * its `tcbDate`. Signed like TCB info, by the Intel SGX TCB Signing key over the exact member text.
 */
import type { X509Certificate } from "node:crypto";
import type { VerificationError } from "../types.ts";
import { isValidAt } from "./cert-chain.ts";
import { tcbSigners } from "./collateral-signatures.ts";
import { date, int, objects, parseJsonObject, str } from "./json-fields.ts";
import { splitSignedJson } from "./signed-json.ts";
import type { TdxTrustAnchors } from "./trust-anchors.ts";
import type { VerificationMemo } from "./verification-memo.ts";

export interface TcbEvaluationNumber {
  evaluationDataNumber: number;
  /** When Intel first published the collateral of this evaluation (PCS `update=early`). */
  tcbRecoveryEventDate: Date;
  tcbDate: Date;
}

export interface TcbEvaluationNumbers {
  id: string;
  issueDate: Date;
  nextUpdate: Date;
  numbers: TcbEvaluationNumber[];
}

/**
 * Intel's PCS and PCCS documentation: `update=early` TCB info is "commonly the day of public disclosure" of a TCB
 * recovery, `standard` "commonly approximately 6 weeks after". An estimate, not a published date.
 */
export const STANDARD_AFTER_EARLY_DAYS = 42;
const DAY_MS = 24 * 60 * 60 * 1000;

export function parseTcbEvaluationNumbers(text: string): TcbEvaluationNumbers {
  const what = "TCB evaluation data numbers";
  const document = parseJsonObject(text, what);
  return {
    id: str(document, "id", what),
    issueDate: date(document, "issueDate", what),
    nextUpdate: date(document, "nextUpdate", what),
    numbers: objects(document, "tcbEvalNumbers", what).map((entry) => ({
      evaluationDataNumber: int(entry, "tcbEvaluationDataNumber", what),
      tcbRecoveryEventDate: date(entry, "tcbRecoveryEventDate", what),
      tcbDate: date(entry, "tcbDate", what),
    })),
  };
}

interface SignedNumbers {
  numbers?: TcbEvaluationNumbers;
  signers: X509Certificate[];
  errors: VerificationError[];
}

function verifySignature(
  body: string,
  issuerChain: string | undefined,
  anchors: TdxTrustAnchors,
): SignedNumbers {
  const what = "TCB evaluation data numbers";
  const errors: VerificationError[] = [];
  try {
    const signed = splitSignedJson(body, "tcbEvaluationDataNumbers", what);
    const signers = tcbSigners(signed.text, signed.signature, issuerChain, anchors, what, errors);
    if (signers.length === 0) return { signers, errors };
    const numbers = parseTcbEvaluationNumbers(signed.text);
    if (numbers.id !== "TDX") {
      errors.push({ code: "CollateralMissing", message: `${what} are for ${numbers.id}, not TDX` });
      return { signers: [], errors };
    }
    return { numbers, signers, errors };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    errors.push({ code: "EvidenceMalformed", message });
    return { signers: [], errors };
  }
}

/**
 * The PCS response body, accepted only when an Intel TCB Signing certificate valid at `now` signed it. Its
 * issueDate..nextUpdate window is not enforced: a number's dates never change once published, and the list only
 * dates a warning, it never causes one.
 */
export function verifyTcbEvaluationNumbers(
  body: string,
  issuerChain: string | undefined,
  anchors: TdxTrustAnchors,
  memo: VerificationMemo,
  now: Date,
): { numbers?: TcbEvaluationNumbers; errors: VerificationError[] } {
  const signed = memo.get("tcb-evaluation-numbers", [body, issuerChain ?? "", anchors], () =>
    verifySignature(body, issuerChain, anchors),
  );
  if (signed.numbers === undefined) return { errors: [...signed.errors] };
  if (!signed.signers.some((signer) => isValidAt(signer, now))) {
    return {
      errors: [
        {
          code: "CertificateExpired",
          message: `no TCB Signing certificate of the TCB evaluation data numbers is valid at ${now.toISOString()}`,
        },
      ],
    };
  }
  return { numbers: signed.numbers, errors: [...signed.errors] };
}

/**
 * When Intel's standard TCB info is expected to reach `evaluationDataNumber`: its TCB recovery event date plus
 * STANDARD_AFTER_EARLY_DAYS. Undefined when the list does not name the number.
 */
export function expectedStandardFrom(
  numbers: TcbEvaluationNumbers | undefined,
  evaluationDataNumber: number,
): Date | undefined {
  const entry = numbers?.numbers.find((n) => n.evaluationDataNumber === evaluationDataNumber);
  return entry === undefined
    ? undefined
    : new Date(entry.tcbRecoveryEventDate.getTime() + STANDARD_AFTER_EARLY_DAYS * DAY_MS);
}
