/**
 * Where RIM appraisal (issue 8 item 2) and OCSP revocation (item 3) plug into the local GPU verifier. Both run only
 * on authentic evidence; without a configured implementation the result is "unchecked", which the verdict and the
 * policy (`spec.gpu.requireRimMatch`, `requireRevocationCheck`) decide about.
 */
import type { EvidenceBundle, VerificationError } from "../types.ts";
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

export interface MeasurementAppraisal {
  measurements: "match" | "mismatch" | "unchecked";
  errors: VerificationError[];
}

export interface RevocationCheck {
  revocation: "good" | "revoked" | "unchecked";
  errors: VerificationError[];
}

/** Compares measurement blocks with signed reference values (RIMs from the bundle, a directory or the RIM service). */
export interface GpuMeasurementAppraiser {
  appraise(evidence: AuthenticGpuEvidence, now: Date): Promise<MeasurementAppraisal>;
}

/** Checks the device chain (leaf first, `device.chain`) for revocation, e.g. by OCSP. */
export interface GpuRevocationChecker {
  check(evidence: AuthenticGpuEvidence, now: Date): Promise<RevocationCheck>;
}

export const MEASUREMENTS_UNCHECKED: GpuMeasurementAppraiser = {
  appraise: () => Promise.resolve({ measurements: "unchecked", errors: [] }),
};

export const REVOCATION_UNCHECKED: GpuRevocationChecker = {
  check: () => Promise.resolve({ revocation: "unchecked", errors: [] }),
};
