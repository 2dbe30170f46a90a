import { expect } from "chai";
import { compilePolicySpec } from "../policy/compiled-policy.ts";
import type { AttestationPolicySpec, AttestationPolicySpecSnp } from "../../api/v1alpha1/generated/types.ts";
import type { Claims, TeeVerification } from "../types.ts";
import { appraiseSnp } from "./appraise-snp.ts";

const MEASUREMENT = "ab".repeat(48);
const HOST_DATA = "cd".repeat(32);
const CHIP_ID = "ef".repeat(64);

function aVerification(overrides: Claims = {}): TeeVerification {
  return {
    type: "snp",
    authentic: true,
    tcbStatus: "UpToDate",
    advisoryIds: [],
    errors: [],
    claims: {
      measurement: MEASUREMENT,
      hostData: HOST_DATA,
      chipId: CHIP_ID,
      signingKey: "vcek",
      vmpl: 0,
      policy: { debug: false, migrateMa: false, smt: true },
      reportedTcb: { raw: "4405000000000002", bootloader: 2, tee: 0, snp: 5, microcode: 68 },
      ...overrides,
    },
  };
}

const TURIN_TCB = { raw: "0900000004010302", fmc: 2, bootloader: 3, tee: 1, snp: 4, microcode: 9 };

interface Case {
  policy: AttestationPolicySpecSnp | undefined;
  claims?: Claims;
  /** `field: actual` of every expected violation. */
  violations: string[];
}

const cases: Record<string, Case> = {
  "an empty policy accepts a non-debug, non-migratable guest": { policy: {}, violations: [] },
  "a policy without an snp section still refuses debug": {
    policy: undefined,
    claims: { policy: { debug: true, migrateMa: false } },
    violations: ["spec.snp.allowDebug: true"],
  },
  "a listed measurement, host data and chip ID pass (case-insensitively)": {
    policy: {
      measurement: ["00".repeat(48), MEASUREMENT],
      hostData: [HOST_DATA],
      allowedChipIds: [CHIP_ID],
    },
    claims: { measurement: MEASUREMENT.toUpperCase() },
    violations: [],
  },
  "an unlisted measurement, host data and chip ID are all reported": {
    policy: {
      measurement: ["00".repeat(48)],
      hostData: ["11".repeat(32)],
      allowedChipIds: ["22".repeat(64)],
    },
    violations: [
      `spec.snp.measurement: ${MEASUREMENT}`,
      `spec.snp.hostData: ${HOST_DATA}`,
      `spec.snp.allowedChipIds: ${CHIP_ID}`,
    ],
  },
  "an empty measurement list accepts nothing": {
    policy: { measurement: [] },
    violations: [`spec.snp.measurement: ${MEASUREMENT}`],
  },
  "debug and the migration agent are refused by default": {
    policy: {},
    claims: { policy: { debug: true, migrateMa: true } },
    violations: ["spec.snp.allowDebug: true", "spec.snp.allowMigrationAgent: true"],
  },
  "debug and the migration agent pass when allowed": {
    policy: { allowDebug: true, allowMigrationAgent: true },
    claims: { policy: { debug: true, migrateMa: true } },
    violations: [],
  },
  "a missing policy claim fails closed": {
    policy: {},
    claims: { policy: "?" },
    violations: ["spec.snp.allowDebug: absent", "spec.snp.allowMigrationAgent: absent"],
  },
  "a reported TCB at the minimum passes": {
    policy: { minTcb: { bootloader: 2, tee: 0, snp: 5, microcode: 68 } },
    violations: [],
  },
  "every component below the minimum is reported": {
    policy: { minTcb: { bootloader: 3, snp: 6, microcode: 69 } },
    violations: ["spec.snp.minTcb.bootloader: 2", "spec.snp.minTcb.snp: 5", "spec.snp.minTcb.microcode: 68"],
  },
  "an FMC minimum does not apply to products without FMC": { policy: { minTcb: { fmc: 1 } }, violations: [] },
  "an FMC minimum applies to Turin": {
    policy: { minTcb: { fmc: 3, tee: 1 } },
    claims: { reportedTcb: TURIN_TCB },
    violations: ["spec.snp.minTcb.fmc: 2"],
  },
  "a missing reported TCB fails a minimum": {
    policy: { minTcb: { tee: 0 } },
    claims: { reportedTcb: "?" },
    violations: ["spec.snp.minTcb.tee: absent"],
  },
  "requireVcek refuses a VLEK": {
    policy: { requireVcek: true },
    claims: { signingKey: "vlek" },
    violations: ["spec.snp.requireVcek: vlek"],
  },
  "requireVcek accepts a VCEK; a VLEK passes without it": { policy: { requireVcek: true }, violations: [] },
  "VLEK is accepted by default": { policy: {}, claims: { signingKey: "vlek" }, violations: [] },
  "a report from VMPL 1 is refused by default (only VMPL 0, the guest kernel)": {
    policy: {},
    claims: { vmpl: 1 },
    violations: ["spec.snp.allowedVmpls: 1"],
  },
  "a VMPL the policy lists is accepted": {
    policy: { allowedVmpls: [0, 1] },
    claims: { vmpl: 1 },
    violations: [],
  },
  "a report without a VMPL claim fails closed": {
    policy: {},
    claims: { vmpl: "?" },
    violations: ["spec.snp.allowedVmpls: ?"],
  },
};

describe("appraiseSnp", () => {
  for (const [name, { policy, claims, violations }] of Object.entries(cases)) {
    it(name, () => {
      const spec: AttestationPolicySpec = policy === undefined ? {} : { snp: policy };
      const result = appraiseSnp(aVerification(claims), compilePolicySpec(spec));
      expect(result.map((v) => `${v.field}: ${v.actual}`)).to.deep.equal(violations);
      for (const v of result) {
        expect(v.expected).to.be.an("array");
        expect(v.message).to.be.a("string").that.is.not.empty;
      }
    });
  }

  it("gives the expected values of a violation", () => {
    const [v] = appraiseSnp(
      aVerification(),
      compilePolicySpec({ snp: { measurement: ["00".repeat(48)], minTcb: { snp: 6 } } }),
    );
    expect(v).to.deep.include({
      field: "spec.snp.measurement",
      expected: ["00".repeat(48)],
      actual: MEASUREMENT,
    });
    const [tcb] = appraiseSnp(aVerification(), compilePolicySpec({ snp: { minTcb: { snp: 6 } } }));
    expect(tcb).to.deep.include({ field: "spec.snp.minTcb.snp", expected: [">= 6"], actual: "5" });
  });
});
