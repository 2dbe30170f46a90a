/**
 * Pure appraisal of SEV-SNP claims against the compiled policy's `snp` section. An unset field is not checked (the
 * CRD defaults allowDebug and allowMigrationAgent to false); every violation is reported.
 */
import type { AttestationPolicySpecSnp } from "../../api/v1alpha1/generated/types.ts";
import type { ClaimValue, PolicyViolation, TeeAppraiser } from "../types.ts";
import type { TcbComponent } from "./tcb.ts";

const MIN_TCB_COMPONENTS: readonly TcbComponent[] = ["bootloader", "tee", "snp", "microcode", "fmc"];

type ClaimObject = Record<string, ClaimValue>;

function asObject(value: ClaimValue | undefined): ClaimObject | undefined {
  return typeof value === "object" && !Array.isArray(value) ? value : undefined;
}

function describe(value: ClaimValue | undefined): string {
  if (value === undefined) return "absent";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function violation(
  field: string,
  expected: string[],
  actual: ClaimValue | undefined,
  message: string,
): PolicyViolation {
  return { field, expected, actual: describe(actual), message };
}

function checkAllowList(
  field: keyof AttestationPolicySpecSnp,
  allowed: string[] | undefined,
  actual: ClaimValue | undefined,
  label: string,
): PolicyViolation[] {
  if (allowed === undefined) return [];
  const value = typeof actual === "string" ? actual.toLowerCase() : undefined;
  if (value !== undefined && allowed.some((a) => a.toLowerCase() === value)) return [];
  return [
    violation(
      `spec.snp.${field}`,
      allowed,
      actual,
      `${label} ${describe(actual)} is not in the accepted list`,
    ),
  ];
}

function checkForbiddenBit(
  field: "allowDebug" | "allowMigrationAgent",
  allowed: boolean,
  bit: ClaimValue | undefined,
  label: string,
): PolicyViolation[] {
  if (allowed || bit === false) return [];
  return [
    violation(
      `spec.snp.${field}`,
      ["false"],
      bit,
      `guest policy ${label} is ${describe(bit)} but the policy forbids it`,
    ),
  ];
}

function checkMinTcb(
  minTcb: AttestationPolicySpecSnp["minTcb"],
  reported: ClaimObject | undefined,
): PolicyViolation[] {
  if (minTcb === undefined) return [];
  const violations: PolicyViolation[] = [];
  for (const component of MIN_TCB_COMPONENTS) {
    const minimum = minTcb[component];
    if (minimum === undefined) continue;
    const actual = reported?.[component];
    // Only Turin and later report an FMC SVN; a minimum for it does not apply to earlier products.
    if (component === "fmc" && reported !== undefined && actual === undefined) continue;
    if (typeof actual === "number" && actual >= minimum) continue;
    violations.push(
      violation(
        `spec.snp.minTcb.${component}`,
        [`>= ${minimum}`],
        actual,
        `reported TCB ${component} SVN ${describe(actual)} is below ${minimum}`,
      ),
    );
  }
  return violations;
}

export const appraiseSnp: TeeAppraiser = (verification, policy) => {
  const spec = policy.snp;
  const claims = verification.claims;
  const guestPolicy = asObject(claims["policy"]);
  const violations = [
    ...checkAllowList("measurement", spec.measurement, claims["measurement"], "MEASUREMENT"),
    ...checkAllowList("hostData", spec.hostData, claims["hostData"], "HOST_DATA"),
    ...checkAllowList("allowedChipIds", spec.allowedChipIds, claims["chipId"], "CHIP_ID"),
    ...checkForbiddenBit("allowDebug", spec.allowDebug, guestPolicy?.["debug"], "DEBUG"),
    ...checkForbiddenBit(
      "allowMigrationAgent",
      spec.allowMigrationAgent,
      guestPolicy?.["migrateMa"],
      "MIGRATE_MA",
    ),
    ...checkMinTcb(spec.minTcb, asObject(claims["reportedTcb"])),
  ];
  const vmpl = claims["vmpl"];
  if (typeof vmpl !== "number" || !spec.allowedVmpls.includes(vmpl)) {
    violations.push(
      violation(
        "spec.snp.allowedVmpls",
        spec.allowedVmpls.map(String),
        vmpl,
        `the report comes from VMPL ${describe(vmpl)}, which the policy does not allow`,
      ),
    );
  }
  if (spec.requireVcek && claims["signingKey"] !== "vcek") {
    const actual = claims["signingKey"];
    violations.push(
      violation(
        "spec.snp.requireVcek",
        ["vcek"],
        actual,
        `report is signed with ${describe(actual)}, not a VCEK`,
      ),
    );
  }
  return violations;
};
