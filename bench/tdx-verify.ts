/**
 * TDX verification throughput on one core with warm collateral caches, against the floor measured in the same
 * run: the raw P-256 ECDSA verify rate of this Node (a quote needs two once chains and collateral are cached).
 *
 *   node bench/tdx-verify.ts [--seconds 0.5] [--rounds 10]
 *
 * Rates are per CPU-second of this process (user + system), which is what one core delivers even when other
 * work shares the machine. Each round times the floor and then each scenario in back-to-back windows and takes
 * their ratio; the printed figures are medians over the rounds.
 */
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createCachingSource } from "../operator/src/attestation/collateral/caching-source.ts";
import { createDirectorySource } from "../operator/src/attestation/collateral/directory-source.ts";
import { tdxTeeFromItem, withoutCollateral } from "../operator/test/support/evidence/tdx-bundle-from-item.ts";
import { createTdxVerifier } from "../operator/src/attestation/tdx/verifier.ts";
import type { TeeEvidence, VerifyOptions } from "../operator/src/attestation/types.ts";
import { collateralDirectory, pcsItems } from "../operator/test/fixtures/tdx/pcs-items.ts";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "0.5" }, rounds: { type: "string", default: "10" } },
});
const windowMs = Number(values.seconds) * 1000;
const rounds = Number(values.rounds);
const ITEM = fileURLToPath(new URL("../operator/test/fixtures/tdx/dcapqvl-uptodate-v4", import.meta.url));
const now = new Date("2025-07-01T00:00:00Z");
const COPIES = 64;

/** CPU seconds of this process: on a shared machine, rates per CPU-second are what one core delivers. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

function rate(work: () => void): number {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let count = 0;
  while (performance.now() - started < windowMs) {
    for (let i = 0; i < 16; i++) work();
    count += 16;
  }
  return count / cpuSeconds(cpu);
}

async function asyncRate(work: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let count = 0;
  while (performance.now() - started < windowMs) await work(count++);
  return count / cpuSeconds(cpu);
}

const median = (numbers: number[]): number =>
  [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)] ?? 0;

// The floor: the fastest way this Node verifies one P-256 signature (a prepared KeyObject and a DER signature).
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const message = Buffer.alloc(632, 7);
const derSignature = sign("sha256", message, privateKey);
const p1363Signature = sign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" });
const floorWork = (): void => void verify("sha256", message, publicKey, derSignature);
const optionsWork = (): void =>
  void verify("sha256", message, { key: publicKey, dsaEncoding: "ieee-p1363" }, p1363Signature);

// Every verification gets its own freshly parsed bundle, as the operator would after reading status.evidence.
const tee = tdxTeeFromItem(ITEM);
const json = JSON.stringify(tee);
const embedded: TeeEvidence[] = Array.from({ length: COPIES }, () => JSON.parse(json) as TeeEvidence);
const bareTee = withoutCollateral(tee);
const bare: TeeEvidence[] = Array.from(
  { length: COPIES },
  () => JSON.parse(JSON.stringify(bareTee)) as TeeEvidence,
);
// The cache runs on the evidence's clock, so the 2025 collateral counts as current.
const collateralDir = collateralDirectory(pcsItems(tee, "b0c06f000000"));
const source = createCachingSource(createDirectorySource(collateralDir), {
  now: () => now.getTime(),
});

const scenarios: { name: string; bundles: TeeEvidence[]; options: VerifyOptions }[] = [
  { name: "collateral in the bundle", bundles: embedded, options: { now } },
  { name: "collateral from the cached source", bundles: bare, options: { now, collateral: source } },
];
const verifier = createTdxVerifier();
for (const scenario of scenarios) {
  const result = await verifier.verify(scenario.bundles[0] as TeeEvidence, scenario.options);
  if (!result.authentic || result.tcbStatus !== "UpToDate" || result.errors.length > 0) {
    throw new Error(`${scenario.name}: warm-up verification failed: ${JSON.stringify(result.errors)}`);
  }
}

const floors: number[] = [];
const optionFloors: number[] = [];
const rates = scenarios.map(() => [] as number[]);
const ratios = scenarios.map(() => [] as number[]);
for (let round = 0; round < rounds; round++) {
  const floor = rate(floorWork);
  floors.push(floor);
  optionFloors.push(rate(optionsWork));
  for (const [index, scenario] of scenarios.entries()) {
    const bundles = scenario.bundles;
    const perSecond = await asyncRate((i) =>
      verifier.verify(bundles[i % COPIES] as TeeEvidence, scenario.options),
    );
    rates[index]?.push(perSecond);
    ratios[index]?.push(perSecond / (floor / 2));
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const floor = median(floors);
console.log(
  `Node ${process.version}, ${rounds} rounds of ${values.seconds} s windows, per CPU-second of one core (medians)`,
);
console.log(`P-256 verify floor (KeyObject, DER signature): ${fmt(floor)} verifies/s`);
console.log(`P-256 verify via options (ieee-p1363):         ${fmt(median(optionFloors))} verifies/s`);
console.log(`floor for two verifies per quote:              ${fmt(floor / 2)} quotes/s`);
for (const [index, scenario] of scenarios.entries()) {
  const label = `TDX quotes, ${scenario.name}:`.padEnd(47);
  const ratio = median(ratios[index] ?? []).toFixed(2);
  console.log(`${label}${fmt(median(rates[index] ?? []))} quotes/s, ${ratio} of the floor`);
}
rmSync(collateralDir, { recursive: true });
