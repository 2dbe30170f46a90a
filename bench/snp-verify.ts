/**
 * SEV-SNP verification throughput on one core, against the physical floor measured in the same run:
 * the raw ECDSA P-384/SHA-384 verify rate of this Node over the same 672 signed bytes.
 * Chains are cached by the verifier (leaf digest; validity re-checked per report); report signatures never are.
 * Run: node bench/snp-verify.ts [seconds per measurement, default 3]
 */
import { verify, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { derToPem } from "../operator/src/crypto/pem.ts";
import { parseSnpReport, signedRegion } from "../operator/src/attestation/snp/report.ts";
import { createSnpVerifier } from "../operator/src/attestation/snp/verifier.ts";
import type { TeeEvidence } from "../operator/src/attestation/types.ts";
import { rate } from "./lib/rate.ts";

const seconds = Number(process.argv[2] ?? "3");
const fixture = (name: string): Buffer =>
  readFileSync(fileURLToPath(new URL(`../operator/test/fixtures/snp/${name}`, import.meta.url)));

const reportBytes = fixture("milan-v2-report.bin");
const vcekDer = fixture("milan-v2-vcek.der");
const now = new Date("2024-01-01T00:00:00Z");

async function main(): Promise<void> {
  const report = parseSnpReport(reportBytes);
  const publicKey = new X509Certificate(vcekDer).publicKey;
  const data = signedRegion(report);
  const signature = Buffer.concat([report.signature.r, report.signature.s]);
  if (!verify("sha384", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, signature)) {
    throw new Error("Fixture signature does not verify");
  }
  const floor = await rate(
    () => verify("sha384", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, signature),
    seconds * 1000,
    50,
  );

  const verifier = createSnpVerifier();
  const evidence: TeeEvidence = {
    type: "snp",
    report: reportBytes.toString("base64"),
    vcek: derToPem(vcekDer),
  };
  const first = await verifier.verify(evidence, { now });
  if (!first.authentic) throw new Error(`Fixture evidence is not authentic: ${JSON.stringify(first.errors)}`);
  const reports = await rate(
    async () => {
      const v = await verifier.verify(evidence, { now });
      if (!v.authentic) throw new Error("Verification failed during the benchmark");
    },
    seconds * 1000,
    50,
  );

  // For contrast: no chain cache, so every report also costs two RSA-4096 PSS verifies and certificate parsing.
  const uncached = createSnpVerifier({ chainCacheEntries: 0 });
  const cold = await rate(
    async () => {
      const v = await uncached.verify(evidence, { now });
      if (!v.authentic) throw new Error("Verification failed during the benchmark");
    },
    1000,
    50,
  );

  const ratio = reports.perSecond / floor.perSecond;
  console.log(`node ${process.version}, one core, ${seconds} s per measurement`);
  console.log(
    `floor: raw ECDSA P-384/SHA-384 verifies/s      ${floor.perSecond.toFixed(0).padStart(7)} (${floor.count} verifies)`,
  );
  console.log(
    `SNP report verifications/s (chain cached)      ${reports.perSecond.toFixed(0).padStart(7)} (${reports.count} reports)`,
  );
  console.log(
    `ratio to floor                                 ${ratio.toFixed(3).padStart(7)} (target >= 0.8)`,
  );
  console.log(
    `SNP report verifications/s (no chain cache)    ${cold.perSecond.toFixed(0).padStart(7)} (${cold.count} reports)`,
  );
  console.log(`chain cache: ${JSON.stringify(verifier.endorsements.stats)}`);
}

await main();
