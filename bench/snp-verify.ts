/**
 * SEV-SNP verification throughput on one core against the shared floor (bench/lib/floor.ts): the raw ECDSA
 * P-384/SHA-384 verify of the same report's signature with the same VCEK key.
 * Cached by the verifier: the VCEK chain (by leaf digest; validity re-checked per report). Never cached: the
 * report signature, parsing of the report, the policy and TCB checks. Each verification gets its own freshly
 * parsed evidence object, as the operator would after reading status.evidence.
 *
 *   node bench/snp-verify.ts [--seconds 0.5] [--rounds 10]
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { derToPem } from "../operator/src/crypto/pem.ts";
import { parseSnpReport, signedRegion } from "../operator/src/attestation/snp/report.ts";
import { createSnpVerifier } from "../operator/src/attestation/snp/verifier.ts";
import type { TeeEvidence } from "../operator/src/attestation/types.ts";
import { conditions, cpuRate, floorOperation, measureAgainstFloor } from "./lib/floor.ts";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "0.5" }, rounds: { type: "string", default: "10" } },
});
const windowMs = Number(values.seconds) * 1000;
const rounds = Number(values.rounds);
const COPIES = 64;
const fixture = (name: string): Buffer =>
  readFileSync(fileURLToPath(new URL(`../operator/test/fixtures/snp/${name}`, import.meta.url)));

const reportBytes = fixture("milan-v2-report.bin");
const vcekDer = fixture("milan-v2-vcek.der");
const now = new Date("2024-01-01T00:00:00Z");

const report = parseSnpReport(reportBytes);
const floor = floorOperation([
  {
    hash: "sha384",
    data: signedRegion(report),
    key: new X509Certificate(vcekDer).publicKey,
    signature: Buffer.concat([report.signature.r, report.signature.s]),
  },
]);

const json = JSON.stringify({ type: "snp", report: reportBytes.toString("base64"), vcek: derToPem(vcekDer) });
const copies = Array.from({ length: COPIES }, () => JSON.parse(json) as TeeEvidence);
const verifier = createSnpVerifier();
const first = await verifier.verify(copies[0] as TeeEvidence, { now });
if (!first.authentic) throw new Error(`Fixture evidence is not authentic: ${JSON.stringify(first.errors)}`);
let next = 0;
const verifyOne = async (): Promise<void> => {
  const v = await verifier.verify(copies[next++ % COPIES] as TeeEvidence, { now });
  if (!v.authentic) throw new Error("Verification failed during the benchmark");
};
const measured = await measureAgainstFloor(floor, [verifyOne], rounds, windowMs);

// For contrast: no chain cache, so every report also costs two RSA-4096 PSS verifies and certificate parsing.
const uncached = createSnpVerifier({ chainCacheEntries: 0 });
const cold = await cpuRate(() => uncached.verify(copies[0] as TeeEvidence, { now }), 1000);

const fmt = (n: number | undefined): string => Math.round(n ?? Number.NaN).toLocaleString("en-US");
console.log(conditions(rounds, windowMs));
console.log(`floor: one raw P-384 verify of the same report:     ${fmt(measured.floor)} reports/s`);
console.log(
  `SNP reports, VCEK chain cached:                     ${fmt(measured.subjects[0])} reports/s, ` +
    `${(measured.ratios[0] ?? Number.NaN).toFixed(2)} of the floor (target >= 0.9)`,
);
console.log(`SNP reports, nothing cached (chain verified each):  ${fmt(cold)} reports/s`);
console.log(`chain cache: ${JSON.stringify(verifier.endorsements.stats)}`);
