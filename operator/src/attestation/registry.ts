import { appraiseSnp, snpVerifier } from "./snp/index.ts";
import { appraiseTdx } from "./tdx/appraise.ts";
import { tdxVerifier } from "./tdx/verifier.ts";
import type { TeeBackend } from "./verify-bundle.ts";

/** The production TEE verifiers, anchored only in the pinned Intel and AMD roots (trustee's `to_verifier`). */
export function defaultTeeBackends(): Record<"tdx" | "snp", TeeBackend> {
  return {
    tdx: { verifier: tdxVerifier, appraise: appraiseTdx },
    snp: { verifier: snpVerifier, appraise: appraiseSnp },
  };
}
