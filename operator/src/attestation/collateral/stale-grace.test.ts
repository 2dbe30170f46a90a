/**
 * --collateral-stale-grace: real Intel collateral a little past its nextUpdate (the service unreachable for a while)
 * is a tolerated CollateralStale warning within the grace, and CollateralExpired beyond it or without a grace.
 */
import { expect } from "chai";
import { sharedBundleCases } from "../../../test/support/shared-evidence.ts";
import { appraise } from "../appraise.ts";
import { compilePolicySpec } from "../policy/compiled-policy.ts";
import { defaultTeeBackends } from "../registry.ts";

// dcapqvl-uptodate-v4: its TCB info, QE identity and PCK CRL are current until 2025-07-19 ~10:00-10:16 UTC.
const AN_HOUR_AFTER = new Date("2025-07-19T11:30:00Z");
const TWO_DAYS_AFTER = new Date("2025-07-21T11:30:00Z");
const DAY_MS = 24 * 3600_000;

describe("stale collateral grace", () => {
  const c = sharedBundleCases().find((x) => x.name.startsWith("tdx/dcapqvl-uptodate-v4"));
  if (c === undefined) throw new Error("missing the dcapqvl case");
  const policy = compilePolicySpec({ allowUnpinnedMeasurements: true });
  const run = (now: Date, collateralGraceMs?: number) =>
    appraise(c.bundle, policy, {
      now,
      backends: {
        tees: defaultTeeBackends(),
        ...(collateralGraceMs === undefined ? {} : { collateralGraceMs }),
      },
    });

  it("within the grace: authentic, UpToDate, a tolerated CollateralStale warning naming each item", async () => {
    const appraisal = await run(AN_HOUR_AFTER, DAY_MS);
    expect(appraisal.tee.authentic).to.equal(true);
    expect(appraisal.tee.tcbStatus).to.equal("UpToDate");
    expect(appraisal.tee.errors.map((e) => e.code)).to.not.include("CollateralExpired");
    const stale = appraisal.warnings.find((w) => w.code === "CollateralStale");
    expect(stale?.tolerated).to.equal(true);
    expect(stale?.message).to.include("TCB info passed its nextUpdate 2025-07-19T10:16:03.000Z");
    expect(stale?.message).to.include("PCK CRL passed its nextUpdate");
  });

  it("without a grace (verify's default) the same collateral is CollateralExpired", async () => {
    const appraisal = await run(AN_HOUR_AFTER);
    expect(appraisal.verdict).to.equal("contraindicated");
    expect(appraisal.tee.errors.map((e) => e.code)).to.include("CollateralExpired");
    expect(appraisal.warnings.map((w) => w.code)).to.not.include("CollateralStale");
  });

  it("beyond the grace it is CollateralExpired again", async () => {
    const appraisal = await run(TWO_DAYS_AFTER, DAY_MS);
    expect(appraisal.verdict).to.equal("contraindicated");
    expect(appraisal.tee.errors.filter((e) => e.code === "CollateralExpired").length).to.be.greaterThan(0);
  });
});
