/**
 * The cold collateral path: how long a real quote or report whose guest sent no collateral takes to appraise when
 * the operator must first fetch Intel's or AMD's items over HTTPS (simulated PCCS/KDS on loopback serving the real
 * fixtures' collateral), then warm (the same items from the in-memory cache), then after a restart (read back from
 * --collateral-cache-dir). Wall-clock milliseconds per appraisal; loopback HTTPS, so a real PCS adds its round trips.
 *
 *   node bench/collateral-cold.ts [--rounds 20]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createCollateralServices } from "../operator/src/attestation/collateral/collateral-services.ts";
import { appraise } from "../operator/src/attestation/appraise.ts";
import { compilePolicySpec } from "../operator/src/attestation/policy/compiled-policy.ts";
import { defaultTeeBackends } from "../operator/src/attestation/registry.ts";
import { withoutCollateral } from "../operator/test/support/evidence/tdx-bundle-from-item.ts";
import { startFixtureCollateralServices } from "../operator/test/support/fakes/collateral-services.ts";
import { sharedBundleCases } from "../operator/test/support/shared-evidence.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "20" } } });
const rounds = Number(values.rounds);
const policy = compilePolicySpec({ allowUnpinnedMeasurements: true });
const services = await startFixtureCollateralServices();
const cases = sharedBundleCases();
const tdxCase = cases.find((x) => x.name.startsWith("tdx/dcapqvl-uptodate-v4"));
const snpCase = cases.find((x) => x.name.startsWith("snp/google-milan-v2") && x.authentic);
if (tdxCase === undefined || snpCase === undefined) throw new Error("missing the dcapqvl or Milan case");
const bundles = {
  tdx: {
    bundle: { ...tdxCase.bundle, tee: withoutCollateral(tdxCase.bundle.tee) },
    at: new Date(tdxCase.at),
  },
  snp: {
    bundle: { ...snpCase.bundle, tee: { type: "snp", report: snpCase.bundle.tee.report } },
    at: new Date(snpCase.at),
  },
};

async function servicesFor(at: Date, cacheDir?: string) {
  return createCollateralServices({
    // The cache runs on the evidence's clock, so its recorded collateral counts as current after a restart.
    now: () => at.getTime(),
    pccsUrl: services.url,
    amdKdsUrl: services.url,
    caPem: services.caPem,
    ...(cacheDir === undefined ? {} : { cacheDir }),
  });
}

async function timeAppraisal(
  tee: "tdx" | "snp",
  source: Awaited<ReturnType<typeof servicesFor>>,
): Promise<number> {
  const { bundle, at } = bundles[tee];
  const started = performance.now();
  const appraisal = await appraise(bundle, policy, {
    now: at,
    backends: { tees: defaultTeeBackends(), collateral: source.source },
  });
  const ms = performance.now() - started;
  if (!appraisal.tee.authentic || appraisal.tee.errors.length > 0)
    throw new Error(`${tee}: ${JSON.stringify(appraisal.tee.errors)}`);
  return ms;
}

const stats = (ms: number[]): string => {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return `median ${at(0.5).toFixed(2)} ms, p95 ${at(0.95).toFixed(2)} ms`;
};

console.log(`Node ${process.version}, ${rounds} rounds, wall-clock ms per appraisal (loopback HTTPS)`);
for (const tee of ["tdx", "snp"] as const) {
  const cold: number[] = [];
  const warm: number[] = [];
  const restarted: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-bench-cache-"));
    const fresh = await servicesFor(bundles[tee].at, dir);
    const before = services.seen.length;
    cold.push(await timeAppraisal(tee, fresh));
    const requests = services.seen.length - before;
    warm.push(await timeAppraisal(tee, fresh));
    const afterRestart = await servicesFor(bundles[tee].at, dir);
    const seen = services.seen.length;
    restarted.push(await timeAppraisal(tee, afterRestart));
    if (round === 0) console.log(`${tee}: a cold appraisal made ${String(requests)} HTTPS requests`);
    if (services.seen.length !== seen && round === 0)
      console.log(
        `${tee}: after a restart ${String(services.seen.length - seen)} item(s) were asked again (answers "not found" are not persisted)`,
      );
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${tee} cold (fetch over HTTPS):           ${stats(cold)}`);
  console.log(`${tee} warm (in-memory cache):            ${stats(warm)}`);
  console.log(`${tee} after restart (cache directory):   ${stats(restarted)}`);
}
await services.close();
