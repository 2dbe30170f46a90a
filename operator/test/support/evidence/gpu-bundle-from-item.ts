/**
 * Turns an evidence item under operator/test/fixtures/evidence/nvidia/<item> into a `gpus[]` entry of an evidence bundle.
 * Items hold either `attestation_report.hex` (request ‖ response as hex text) with `cert_chain.pem`, or the
 * attestation SDK's serialized `*_evidence.json` ([{arch, nonce, evidence (base64), certificate (base64 PEM)}]).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { GpuEvidenceEntry } from "../../../src/attestation/gpu/checks.ts";

export interface GpuItemOptions {
  /** Default HOPPER; NVIDIA labels an NVSwitch LS10 (HOPPER, its generation, is accepted for it too). */
  arch?: GpuEvidenceEntry["arch"];
  driverVersion?: string;
  vbiosVersion?: string;
  /** A certificate chain file inside the item instead of its own (e.g. `negative/invalidCertChain.pem`). */
  certChainFile?: string;
}

interface SerializedEvidence {
  arch?: unknown;
  evidence?: unknown;
  certificate?: unknown;
}

function fromSerialized(path: string): { evidence: string; certChain: string } {
  const [first] = JSON.parse(readFileSync(path, "utf8")) as SerializedEvidence[];
  if (typeof first?.evidence !== "string" || typeof first.certificate !== "string") {
    throw new Error(`${path} has no evidence/certificate entry`);
  }
  return { evidence: first.evidence, certChain: Buffer.from(first.certificate, "base64").toString("utf8") };
}

function fromHexAndPem(dir: string): { evidence: string; certChain: string } {
  const hex = readFileSync(join(dir, "attestation_report.hex"), "utf8").trim();
  return {
    evidence: Buffer.from(hex, "hex").toString("base64"),
    certChain: readFileSync(join(dir, "cert_chain.pem"), "utf8"),
  };
}

export function gpuEntryFromItem(dir: string, options: GpuItemOptions = {}): GpuEvidenceEntry {
  const serialized = readdirSync(dir).find((name) => name.endsWith("_evidence.json"));
  const material =
    !existsSync(join(dir, "attestation_report.hex")) && serialized !== undefined
      ? fromSerialized(join(dir, serialized))
      : fromHexAndPem(dir);
  const entry: GpuEvidenceEntry = {
    arch: options.arch ?? "HOPPER",
    evidence: material.evidence,
    certChain:
      options.certChainFile === undefined
        ? material.certChain
        : readFileSync(join(dir, options.certChainFile), "utf8"),
  };
  if (options.driverVersion !== undefined) entry.driverVersion = options.driverVersion;
  if (options.vbiosVersion !== undefined) entry.vbiosVersion = options.vbiosVersion;
  return entry;
}
