/**
 * The GPU verification rates without warm caches, and what each one still keeps. "Fresh verifier" means new
 * verifier objects in this (JIT-warm) process: no verified device chain, RIM, CA link or certificate profile.
 * The subject is one H100 with its driver and VBIOS RIMs; an entry without `rims` makes the verifier look its RIMs
 * up by ID, here in a `--rim-cache-dir` filled beforehand, as a restarted controller finds it.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GpuEvidenceEntry } from "../../operator/src/attestation/gpu/checks.ts";
import { createLocalGpuVerifier } from "../../operator/src/attestation/gpu/verifier.ts";
import { createRimAppraiser } from "../../operator/src/attestation/gpu/rim/rim-measurement-check.ts";
import type { RimSource } from "../../operator/src/attestation/gpu/rim/rim-source.ts";
import { rate } from "./rate.ts";

export interface ColdRate {
  label: string;
  /** GPUs verified per second. */
  perSecond: number;
  count: number;
}

function expectMatch(results: readonly { measurements?: string; errors?: unknown }[]): void {
  for (const r of results)
    if (r.measurements !== "match") throw new Error(`Verification failed: ${JSON.stringify(r.errors)}`);
}

/**
 * A new `--rim-cache-dir` filled the way the controller fills it: one verification that fetches the entry's RIMs by
 * ID from a stand-in RIM service (serving the bundle's driver and VBIOS RIMs) through the disk cache.
 */
async function filledRimCache(
  entry: GpuEvidenceEntry,
  withoutRims: GpuEvidenceEntry,
  now: Date,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "trustgate-bench-rims-"));
  const service: RimSource = {
    get: (id) => Promise.resolve(id.startsWith("NV_GPU_DRIVER_") ? entry.rims?.driver : entry.rims?.vbios),
  };
  const fetching = createLocalGpuVerifier({
    measurements: createRimAppraiser({ source: service, cacheDir: dir }),
  });
  expectMatch(await fetching.verify([withoutRims], { now }));
  if (readdirSync(dir).length !== 2) throw new Error(`expected two RIMs in ${dir}`);
  return dir;
}

export async function coldRates(entry: GpuEvidenceEntry, now: Date, durationMs: number): Promise<ColdRate[]> {
  const withoutRims: GpuEvidenceEntry = { ...entry };
  delete withoutRims.rims;
  const rimCacheDir = await filledRimCache(entry, withoutRims, now);
  const eight = Array.from({ length: 8 }, () => entry);
  const measure = async (label: string, gpus: number, run: () => Promise<void>): Promise<ColdRate> => {
    const r = await rate(run, durationMs, 1);
    return { label, perSecond: r.perSecond * gpus, count: r.count * gpus };
  };
  try {
    return [
      await measure("cold: fresh verifier per GPU, RIMs in the bundle (nothing cached)", 1, async () => {
        expectMatch(await createLocalGpuVerifier({ chainCacheEntries: 0 }).verify([entry], { now }));
      }),
      await measure(
        "cold 8-GPU bundle: fresh verifier per bundle, no chain cache (each RIM verified once per digest)",
        8,
        async () => {
          expectMatch(await createLocalGpuVerifier({ chainCacheEntries: 0 }).verify(eight, { now }));
        },
      ),
      await measure(
        "after a restart: fresh verifier per GPU, RIMs read from --rim-cache-dir and verified again",
        1,
        async () => {
          expectMatch(
            await createLocalGpuVerifier({ chainCacheEntries: 0, rimCache: { dir: rimCacheDir } }).verify(
              [withoutRims],
              { now },
            ),
          );
        },
      ),
    ];
  } finally {
    rmSync(rimCacheDir, { recursive: true, force: true });
  }
}
