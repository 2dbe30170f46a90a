/**
 * Where RIM appraisal (issue 8 item 2) and OCSP revocation (item 3) plug into the local GPU verifier. Both run only
 * on authentic evidence; without a configured implementation the result is "unchecked", which the verdict and the
 * policy (`spec.gpu.requireRimMatch`, `requireRevocationCheck`) decide about.
 */
import type { X509Certificate } from "node:crypto";
import type { EvidenceBundle, GpuVerificationSources, VerificationError } from "../types.ts";
import type { VerifiedDevice } from "./device-chain.ts";
import type { SpdmEvidence } from "./spdm-evidence.ts";

export type GpuEvidenceEntry = NonNullable<EvidenceBundle["gpus"]>[number];

/** One GPU's evidence after its signature, chain and FWID verified. */
export interface AuthenticGpuEvidence {
  index: number;
  entry: GpuEvidenceEntry;
  spdm: SpdmEvidence;
  device: VerifiedDevice;
}

/** Where this verification fetches what the evidence lacks (the policy's rimServiceUrl, ocspUrl, nrasUrl). */
export interface GpuAppraisalContext {
  sources: GpuVerificationSources;
}

export interface MeasurementAppraisal {
  measurements: "match" | "mismatch" | "unchecked";
  errors: VerificationError[];
  /** Signer chains (signer first) of the RIMs used: the revocation check covers them too. */
  rimChains?: (readonly X509Certificate[])[];
  /** Active RIM indexes compared and how many matched. */
  compared?: { active: number; matched: number };
}

export interface RevocationCheck {
  revocation: "good" | "revoked" | "unchecked";
  errors: VerificationError[];
}

/** Compares measurement blocks with signed reference values (RIMs from the bundle, a directory or the RIM service). */
export interface GpuMeasurementAppraiser {
  appraise(
    evidence: AuthenticGpuEvidence,
    now: Date,
    context: GpuAppraisalContext,
  ): Promise<MeasurementAppraisal>;
}

/** Checks the device chain (leaf first, `device.chain`) and the RIM signer chains for revocation, e.g. by OCSP. */
export interface GpuRevocationChecker {
  check(
    evidence: AuthenticGpuEvidence,
    now: Date,
    context: GpuAppraisalContext & { rimChains: (readonly X509Certificate[])[] },
  ): Promise<RevocationCheck>;
}

export const MEASUREMENTS_UNCHECKED: GpuMeasurementAppraiser = {
  appraise: () => Promise.resolve({ measurements: "unchecked", errors: [] }),
};

export const REVOCATION_UNCHECKED: GpuRevocationChecker = {
  check: () => Promise.resolve({ revocation: "unchecked", errors: [] }),
};
