/**
 * Pure appraisal of TDX claims against the compiled policy's `tdx` section: an unset field is not checked (the CRD
 * defaults refuse debug and accept only UpToDate); every mismatch is reported with field, expected and actual.
 */
import type { AttestationPolicySpecTdx } from "../../api/v1alpha1/generated/types.ts";
import type { ClaimValue, PolicyViolation, TeeAppraiser, TeeVerification } from "../types.ts";

const MEASUREMENT_FIELDS = [
  "mrTd",
  "rtmr0",
  "rtmr1",
  "rtmr2",
  "rtmr3",
  "mrSeam",
  "mrConfigId",
  "xfam",
] as const;
const MISSING = "<missing>";

function claimText(value: ClaimValue | undefined): string {
  return value === undefined ? MISSING : typeof value === "string" ? value : JSON.stringify(value);
}

function violation(
  field: keyof AttestationPolicySpecTdx,
  expected: string[],
  actual: string,
): PolicyViolation {
  const path = `spec.tdx.${field}`;
  return {
    field: path,
    expected,
    actual,
    message: `${path}: ${actual} is not one of [${expected.join(", ")}]`,
  };
}

export const appraiseTdx: TeeAppraiser = (verification: TeeVerification, policy) => {
  const tdx = policy.tdx;
  const { claims } = verification;
  const violations: PolicyViolation[] = [];

  for (const field of MEASUREMENT_FIELDS) {
    const allowed = tdx[field];
    if (allowed === undefined) continue;
    const actual = claimText(claims[field]).toLowerCase();
    if (!allowed.some((value) => value.toLowerCase() === actual)) {
      violations.push(violation(field, allowed, actual));
    }
  }

  if (!tdx.allowDebug && claims.debug !== false) {
    violations.push({
      ...violation("allowDebug", ["false"], claimText(claims.debug)),
      message: `spec.tdx.allowDebug: the TD has the DEBUG attribute (debug=${claimText(claims.debug)})`,
    });
  }

  const accepted = tdx.acceptedTcbStatuses;
  if (!accepted.includes(verification.tcbStatus)) {
    violations.push(violation("acceptedTcbStatuses", [...accepted], verification.tcbStatus));
  }

  if (tdx.minTcbEvaluationDataNumber !== undefined) {
    const actual = claims.tcbEvaluationDataNumber;
    if (typeof actual !== "number" || actual < tdx.minTcbEvaluationDataNumber) {
      violations.push({
        ...violation(
          "minTcbEvaluationDataNumber",
          [`>= ${tdx.minTcbEvaluationDataNumber}`],
          claimText(actual),
        ),
        message: `spec.tdx.minTcbEvaluationDataNumber: ${claimText(actual)} is below ${tdx.minTcbEvaluationDataNumber}`,
      });
    }
  }

  if (tdx.allowedAdvisoryIds !== undefined) {
    const allowed = tdx.allowedAdvisoryIds;
    for (const id of verification.advisoryIds.filter((advisory) => !allowed.includes(advisory))) {
      violations.push(violation("allowedAdvisoryIds", allowed, id));
    }
  }
  return violations;
};
