/** Intel TDX: parse → verify → appraise (design.md sections 4 and 5). */
export { appraiseTdx } from "./appraise-tdx.ts";
export {
  tdxBundleFromItem,
  tdxTeeFromItem,
  withoutCollateral,
  type TdxItemOptions,
} from "./bundle-from-item.ts";
export type { TdxCollateral } from "./collateral-resolve.ts";
export { parseTdxQuote, type TdxQuote } from "./quote.ts";
export { evaluateTcb, type TcbEvaluation } from "./tcb-evaluation.ts";
export { intelTrustAnchors, type TdxTrustAnchors } from "./trust-anchors.ts";
export { VerificationMemo } from "./verification-memo.ts";
export { createTdxVerifier, tdxVerifier, type TdxVerifierOptions } from "./verifier.ts";
