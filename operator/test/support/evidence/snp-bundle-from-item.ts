/**
 * Turns a SEV-SNP evidence item (a folder with a 1184-byte report, a DER VCEK/VLEK and a PEM ASK/ASVK+ARK
 * chain, as in an evidence item under operator/test/fixtures/evidence/snp/<item>) into the `tee` section of an evidence
 * bundle.
 */
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TeeEvidence } from "../../../src/attestation/types.ts";
import { derToPem } from "../../../src/crypto/pem.ts";

export interface SnpItemFiles {
  report?: string;
  certificate?: string;
  chain?: string;
}

/** Finds the item's files by name: `*report*.bin`, the `*.der` leaf, and `ask_ark*.pem` / `cert_chain*.pem`. */
export function snpItemFiles(dir: string): SnpItemFiles {
  const names = readdirSync(dir).sort();
  const find = (test: (name: string) => boolean): string | undefined => {
    const name = names.find(test);
    return name === undefined ? undefined : join(dir, name);
  };
  const files: SnpItemFiles = {};
  const report = find((n) => n.endsWith(".bin") && n.includes("report"));
  const certificate = find((n) => n.endsWith(".der"));
  const chain = find((n) => n.endsWith(".pem") && (n.startsWith("ask_ark") || n.startsWith("cert_chain")));
  if (report !== undefined) files.report = report;
  if (certificate !== undefined) files.certificate = certificate;
  if (chain !== undefined) files.chain = chain;
  return files;
}

/** The bundle `tee` section; the leaf goes to `vcek` or `vlek` by its subject CN. */
export function snpTeeFromItem(dir: string): TeeEvidence {
  const files = snpItemFiles(dir);
  if (files.report === undefined || files.certificate === undefined) {
    throw new Error(`SEV-SNP item ${dir} has no report or no VCEK/VLEK`);
  }
  const leafDer = readFileSync(files.certificate);
  const leafField = new X509Certificate(leafDer).subject.includes("CN=SEV-VLEK") ? "vlek" : "vcek";
  const tee: TeeEvidence = {
    type: "snp",
    report: readFileSync(files.report).toString("base64"),
    [leafField]: derToPem(leafDer),
  };
  if (files.chain !== undefined) tee.certChain = readFileSync(files.chain, "utf8");
  return tee;
}
