import { localGpuVerifier } from "./gpu/verifier.ts";
import { appraiseSnp, snpVerifier } from "./snp/index.ts";
import { appraiseTdx } from "./tdx/appraise-tdx.ts";
import { tdxVerifier } from "./tdx/verifier.ts";
import type { GpuEvidenceVerifier, TeeBackend } from "./types.ts";

/** The production TEE verifiers, anchored only in the pinned Intel and AMD roots (trustee's `to_verifier`). */
export function defaultTeeBackends(): Record<"tdx" | "snp", TeeBackend> {
  return {
    tdx: { verifier: tdxVerifier, appraise: appraiseTdx },
    snp: { verifier: snpVerifier, appraise: appraiseSnp },
  };
}

/** The production GPU/NVSwitch verifier (local mode), anchored only in the pinned NVIDIA Device Identity CA. */
export function defaultGpuVerifier(): GpuEvidenceVerifier {
  return localGpuVerifier;
}
