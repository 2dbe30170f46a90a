import type { Appraisal } from "../../attestation/appraise.ts";
import { VERSION } from "../../version.ts";

export const VERIFICATION_RESULT_API_VERSION = "trustgate.io/v1alpha1";
export const VERIFICATION_RESULT_KIND = "VerificationResult";

/** What `trustgate verify` prints (docs/schemas/verify-output.schema.json): the appraisal, said when and by what. */
export interface VerificationResult extends Appraisal {
  apiVersion: typeof VERIFICATION_RESULT_API_VERSION;
  kind: typeof VERIFICATION_RESULT_KIND;
  /** The time the evidence was appraised as of (`--at`, else the clock), RFC 3339 UTC. */
  verifiedAt: string;
  /** The trustgate version that appraised it. */
  verifierVersion: string;
}

export function verificationResult(
  appraisal: Appraisal,
  verifiedAt: Date,
  verifierVersion: string = VERSION,
): VerificationResult {
  return {
    apiVersion: VERIFICATION_RESULT_API_VERSION,
    kind: VERIFICATION_RESULT_KIND,
    verifiedAt: verifiedAt.toISOString(),
    verifierVersion,
    ...appraisal,
  };
}
