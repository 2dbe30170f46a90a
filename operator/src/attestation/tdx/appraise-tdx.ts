/**
 * Pure appraisal of TDX claims against the compiled policy's `tdx` section: an unset field is not checked (the CRD
 * defaults refuse debug and accept only UpToDate); every mismatch is reported with field, expected and actual.
 */
import type { AttestationPolicySpecTdx } from "../../api/v1alpha1/generated/types.ts";
import type { TdxPolicy } from "../policy/compiled-policy.ts";
import type { ClaimValue, PolicyViolation, TeeAppraiser, TeeVerification } from "../types.ts";
import { appraiseEventLog } from "./event-log/appraise-events.ts";

const MEASUREMENT_FIELDS = [
  "mrTd",
  "rtmr0",
  "rtmr1",
  "rtmr2",
  "rtmr3",
  "mrSeam",
  "mrConfigId",
  "mrOwner",
  "mrOwnerConfig",
  "mrServiceTd",
  "xfam",
] as const;

/** TD ATTRIBUTES bits of the TUD (0-7) and SEC (8-31) groups, by the names of the TDX module ABI; DEBUG is bit 0. */
export const TD_ATTRIBUTE_BITS = {
  HGS_PLUS_PROF: 4,
  PERF_PROF: 5,
  PMT_PROF: 6,
  ICSSD: 16,
  LASS: 27,
  SEPT_VE_DISABLE: 28,
  MIGRATABLE: 29,
  PKS: 30,
  KL: 31,
} as const;
const CHECKED_ATTRIBUTE_BITS = 32;

/** The set bits of a TD ATTRIBUTES claim (16 hex characters, the quote's little-endian bytes), below bit 32. */
function setAttributeBits(claim: ClaimValue | undefined): number[] | undefined {
  if (typeof claim !== "string" || !/^[0-9a-fA-F]{16}$/.test(claim)) return undefined;
  const value = Buffer.from(claim, "hex").readBigUInt64LE();
  return Array.from({ length: CHECKED_ATTRIBUTE_BITS }, (_, bit) => bit).filter(
    (bit) => ((value >> BigInt(bit)) & 1n) === 1n,
  );
}

/** Every TUD/SEC attribute bit set that the policy does not allow (DEBUG is allowDebug's); reserved bits always. */
function attributeViolations(tdx: TdxPolicy, claim: ClaimValue | undefined): PolicyViolation[] {
  const bits = setAttributeBits(claim);
  const allowed = [...tdx.allowedAttributes];
  if (bits === undefined) return [violation("allowedAttributes", allowed, claimText(claim))];
  const names = new Map<number, string>(Object.entries(TD_ATTRIBUTE_BITS).map(([name, bit]) => [bit, name]));
  return bits
    .filter((bit) => bit !== 0)
    .filter((bit) => !(allowed as string[]).includes(names.get(bit) ?? ""))
    .map((bit) => {
      const name = names.get(bit) ?? `reserved bit ${String(bit)}`;
      return {
        ...violation("allowedAttributes", allowed, name),
        message: `spec.tdx.allowedAttributes: the TD has ${name} set (ATTRIBUTES ${claimText(claim)}), which the policy does not allow`,
      };
    });
}
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

  violations.push(...attributeViolations(tdx, claims["tdAttributes"]));

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
  violations.push(...appraiseEventLog(verification.eventLog, tdx));
  return violations;
};
