/**
 * GPU evidence verification throughput on one core against the shared floor (bench/lib/floor.ts): the raw ECDSA
 * P-384/SHA-384 verify of the same SPDM response signature with the same device leaf key (one per GPU).
 * Cached by the verifier: device chains and verified RIMs (by digest; validity re-checked per use). Never cached:
 * SPDM signatures, SPDM parsing, and the comparison of every active RIM index on every verification. The subject is the go-nvtrust
 * H100 with its driver and VBIOS RIMs in the bundle (33 active measurements), verified inside the RIMs' validity.
 * Also: the time to verify an 8-GPU bundle (GPUs alone, and the whole bundle with its TDX quote), and the cold rates
 * of bench/lib/gpu-cold.ts (each line says what it still caches).
 * Run: node bench/gpu-verify.ts [--seconds 0.5] [--rounds 10] [--bundle-seconds 3]
 */
import { parseArgs } from "node:util";
import { createLocalGpuVerifier } from "../operator/src/attestation/gpu/verifier.ts";
import { parseSpdmEvidence } from "../operator/src/attestation/gpu/spdm-evidence.ts";
import { defaultTeeBackends } from "../operator/src/attestation/registry.ts";
import { appraise } from "../operator/src/attestation/appraise.ts";
import { compilePolicySpec } from "../operator/src/attestation/policy/compiled-policy.ts";
import { readFileSync } from "node:fs";
import {
  SHARED_GPU_ITEMS,
  nvidiaItemDir,
  sharedGpuEntry,
} from "../operator/test/fixtures/nvidia/shared-items.ts";
import { sharedBundleCases } from "../operator/test/support/shared-evidence.ts";
import { conditions, cpuRate, floorOperation, measureAgainstFloor } from "./lib/floor.ts";
import { coldRates } from "./lib/gpu-cold.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "0.5" },
    rounds: { type: "string", default: "10" },
    "bundle-seconds": { type: "string", default: "3" },
  },
});
const windowMs = Number(values.seconds) * 1000;
const rounds = Number(values.rounds);
const seconds = Number(values["bundle-seconds"]);
/** Inside the validity of the gonvtrust RIM signers and of the TDX collateral used below. */
const now = new Date("2025-06-20T00:00:00Z");
const ITEM = "gonvtrust-hopper-545-fullrim";

async function timings(
  run: () => Promise<unknown>,
  durationMs: number,
): Promise<{ mean: number; p95: number }> {
  for (let i = 0; i < 20; i++) await run();
  const samples: number[] = [];
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const mean = samples.reduce((sum, v) => sum + v, 0) / samples.length;
  return { mean, p95: samples[Math.ceil(samples.length * 0.95) - 1] ?? Number.NaN };
}

async function main(): Promise<void> {
  const shared = SHARED_GPU_ITEMS.find((i) => i.item === ITEM);
  if (shared === undefined) throw new Error(`missing ${ITEM}`);
  const rim = (file: string): string => readFileSync(`${nvidiaItemDir(ITEM)}/rims/${file}`, "utf8");
  const entry = {
    ...sharedGpuEntry(shared),
    rims: {
      driver: rim("NV_GPU_DRIVER_GH100_545.00_test_no_gpu.swidtag"),
      vbios: rim("NV_GPU_VBIOS_1010_0200_882_96005E0001_test_no_gpu.swidtag"),
    },
  };
  const verifier = createLocalGpuVerifier();
  const [first] = await verifier.verify([entry], { now });
  if (first?.authentic !== true || first.measurements !== "match")
    throw new Error(`Fixture does not verify: ${JSON.stringify(first?.errors)}`);

  const spdm = parseSpdmEvidence(Buffer.from(entry.evidence, "base64"));
  const floor = floorOperation([
    {
      hash: "sha384",
      data: spdm.signedBytes,
      key: verifier.chains.verify(entry.certChain, now).leafKey,
      signature: spdm.response.signature,
    },
  ]);
  // Each verification gets its own freshly parsed entry, as the operator would after reading status.evidence.
  const json = JSON.stringify(entry);
  const copies = Array.from({ length: 64 }, () => JSON.parse(json) as typeof entry);
  let next = 0;
  const measured = await measureAgainstFloor(
    floor,
    [
      async () => {
        const [r] = await verifier.verify([copies[next++ % 64] ?? entry], { now });
        if (r?.measurements !== "match") throw new Error("Verification failed during the benchmark");
      },
    ],
    rounds,
    windowMs,
  );
  // Device chain verified every time; the two RIMs stay verified in this verifier's memory.
  const noChainCache = createLocalGpuVerifier({ chainCacheEntries: 0 });
  const rimsCached = await cpuRate(() => noChainCache.verify([entry], { now }), 1000);
  const cold = await coldRates(entry, now, seconds * 1000);

  // Eight GPUs: the same H100 with its RIMs eight times (duplicates are flagged; each costs a full verification).
  const eight = Array.from({ length: 8 }, () => entry);
  const gpuOnly = await timings(() => verifier.verify(eight, { now }), seconds * 1000);
  const tdx = sharedBundleCases().find(
    (c) => c.name.startsWith("tdx/google-gcp-cos113-ccel") && c.at === now.toISOString().replace(".000", ""),
  );
  if (tdx === undefined) throw new Error("missing the shared TDX case");
  const bundle = { ...tdx.bundle, gpus: eight };
  const policy = compilePolicySpec({ gpu: { requireRimMatch: true, requireRevocationCheck: false } });
  const context = { now, backends: { tees: defaultTeeBackends(), gpus: verifier } };
  const whole = await timings(() => appraise(bundle, policy, context), seconds * 1000);

  const row = (label: string, value: string): void => {
    console.log(`${label.padEnd(58)}${value}`);
  };
  console.log(conditions(rounds, windowMs));
  console.log(`${spdm.signedBytes.length} signed bytes; 8-GPU timings over ${seconds} s of wall time`);
  const fmt = (n: number | undefined): string => Math.round(n ?? Number.NaN).toLocaleString("en-US");
  row("floor: one raw P-384 verify of the same SPDM signature", `${fmt(measured.floor)} GPUs/s`.padStart(13));
  row(
    "GPU evidence, device chain and RIMs cached",
    `${fmt(measured.subjects[0]).padStart(7)} GPUs/s, ${(measured.ratios[0] ?? Number.NaN).toFixed(2)} of the floor (target >= 0.9)`,
  );
  row(
    "GPU evidence, device chain not cached (RIMs cached in memory)",
    `${fmt(rimsCached).padStart(7)} GPUs/s`,
  );
  for (const line of cold)
    console.log(
      `${line.label}\n${"".padEnd(58)}${line.perSecond.toFixed(1).padStart(7)} GPUs/s (${line.count})`,
    );
  row(
    "8-GPU verification, GPUs only: mean / p95 ms",
    `${gpuOnly.mean.toFixed(2).padStart(7)} / ${gpuOnly.p95.toFixed(2)}`,
  );
  row(
    "8-GPU bundle incl. TDX quote: mean / p95 ms",
    `${whole.mean.toFixed(2).padStart(7)} / ${whole.p95.toFixed(2)} (target <= 10)`,
  );
  // The floor of an 8-GPU bundle: eight raw P-384 verifies at this run's median rate (the TDX quote adds two P-256).
  const floor8 = 8000 / measured.floor;
  row("8-GPU floor: 8 raw P-384 verifies, ms", floor8.toFixed(2).padStart(7));
  row("8-GPU bundle mean / floor", (whole.mean / floor8).toFixed(2).padStart(7));
  console.log(`chain cache: ${JSON.stringify(verifier.chains.stats)}`);
  console.log(`RIM cache: ${JSON.stringify(verifier.rims?.stats)}`);
}

await main();
