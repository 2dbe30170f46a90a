/**
 * TDX verification throughput on one core with warm collateral caches, against the shared floor
 * (bench/lib/floor.ts): the two raw P-256 verifies of the same quote (quote signature, QE report signature).
 *
 *   node bench/tdx-verify.ts [--seconds 0.5] [--rounds 10]
 */
import { X509Certificate, createPublicKey } from "node:crypto";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createCachingSource } from "../operator/src/attestation/collateral/caching-source.ts";
import { createDirectorySource } from "../operator/src/attestation/collateral/directory-source.ts";
import { tdxTeeFromItem, withoutCollateral } from "../operator/test/support/evidence/tdx-bundle-from-item.ts";
import { parseTdxQuote } from "../operator/src/attestation/tdx/quote.ts";
import { createTdxVerifier } from "../operator/src/attestation/tdx/verifier.ts";
import type { TeeEvidence, VerifyOptions } from "../operator/src/attestation/types.ts";
import { certificatesFromBytes } from "../operator/src/crypto/pem.ts";
import { collateralDirectory, pcsItems } from "../operator/test/fixtures/tdx/pcs-items.ts";
import { conditions, floorOperation, measureAgainstFloor } from "./lib/floor.ts";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "0.5" }, rounds: { type: "string", default: "10" } },
});
const windowMs = Number(values.seconds) * 1000;
const rounds = Number(values.rounds);
const ITEM = fileURLToPath(new URL("../operator/test/fixtures/tdx/dcapqvl-uptodate-v4", import.meta.url));
const now = new Date("2025-07-01T00:00:00Z");
const COPIES = 64;

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

const quote = parseTdxQuote(Buffer.from(tee.quote ?? "", "base64"));
const [pckLeaf] = certificatesFromBytes(quote.pckCertChain, "PCK chain");
const P256_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex");
const floor = floorOperation([
  {
    hash: "sha256",
    data: quote.signedRegion,
    key: createPublicKey({
      key: Buffer.concat([P256_SPKI_PREFIX, Buffer.of(4), quote.attestationKey]),
      format: "der",
      type: "spki",
    }),
    signature: quote.signature,
  },
  {
    hash: "sha256",
    data: quote.qeReport.raw,
    key: new X509Certificate(pckLeaf ?? new Uint8Array()).publicKey,
    signature: quote.qeReportSignature,
  },
]);

const measured = await measureAgainstFloor(
  floor,
  scenarios.map((scenario) => {
    let i = 0;
    return () => verifier.verify(scenario.bundles[i++ % COPIES] as TeeEvidence, scenario.options);
  }),
  rounds,
  windowMs,
);

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
console.log(conditions(rounds, windowMs));
console.log(`floor: two raw P-256 verifies of the same quote:  ${fmt(measured.floor)} quotes/s`);
for (const [index, scenario] of scenarios.entries()) {
  const label = `TDX quotes, ${scenario.name}:`.padEnd(50);
  const ratio = (measured.ratios[index] ?? Number.NaN).toFixed(2);
  console.log(`${label}${fmt(measured.subjects[index] ?? Number.NaN)} quotes/s, ${ratio} of the floor`);
}
rmSync(collateralDir, { recursive: true });
