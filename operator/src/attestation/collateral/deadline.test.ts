import { expect } from "chai";
import { sharedBundleCases } from "../../../test/support/shared-evidence.ts";
import { withoutCollateral } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { appraise } from "../appraise.ts";
import { compilePolicySpec } from "../policy/compiled-policy.ts";
import { defaultTeeBackends } from "../registry.ts";
import type { CollateralSource } from "../types.ts";
import { withDeadline } from "./deadline.ts";

/** A service that never answers. */
const silent: CollateralSource = { get: () => new Promise(() => undefined) };

describe("the per-appraisal collateral deadline", () => {
  it("fails a lookup still unanswered at the deadline, naming the item and the deadline", async () => {
    const started = performance.now();
    const failure = await withDeadline(silent, 50)
      .get("tdx-tcb-info", "b0c06f000000")
      .then(
        () => undefined,
        (error: unknown) => error as Error,
      );
    expect(performance.now() - started).to.be.lessThan(1000);
    expect(failure?.message).to.equal(
      "tdx-tcb-info b0c06f000000: no answer within the appraisal's collateral deadline of 0.05s",
    );
  });

  it("is one deadline for the whole appraisal: a lookup after it fails at once", async () => {
    let now = 0;
    const source = withDeadline({ get: () => Promise.resolve(new Uint8Array([1])) }, 100, () => now);
    expect(await source.get("k", "a")).to.deep.equal(new Uint8Array([1]));
    now = 100;
    const late = await source.get("k", "b").then(
      () => "answered",
      (error: unknown) => (error as Error).message,
    );
    expect(late).to.include("no answer within the appraisal's collateral deadline");
  });

  it("a real quote appraised against a silent service is contraindicated with CollateralUnavailable, not stuck", async () => {
    const c = sharedBundleCases().find((x) => x.name.startsWith("tdx/dcapqvl-uptodate-v4"));
    if (c === undefined) throw new Error("missing the dcapqvl case");
    const appraisal = await appraise(
      { ...c.bundle, tee: withoutCollateral(c.bundle.tee) },
      compilePolicySpec({ allowUnpinnedMeasurements: true }),
      {
        now: new Date(c.at),
        backends: { tees: defaultTeeBackends(), collateral: silent, collateralDeadlineMs: 100 },
      },
    );
    expect(appraisal.verdict).to.equal("contraindicated");
    const unavailable = appraisal.tee.errors.filter((e) => e.code === "CollateralUnavailable");
    expect(unavailable.length).to.be.greaterThan(0);
    expect(unavailable[0]?.message).to.include("collateral deadline of 0.1s");
  });
});
