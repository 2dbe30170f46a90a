/** SEV-SNP: parse (report.ts) -> verify (verifier.ts) -> appraise (appraise-snp.ts). */
export { appraiseSnp } from "./appraise-snp.ts";
export { snpClaims } from "./claims.ts";
export { EndorsementVerifier, type Endorsement, type TrustAnchors } from "./endorsement-chain.ts";
export {
  AMD_KDS_URL,
  certChainCollateralKey,
  createAmdKdsSource,
  SNP_CERT_CHAIN_KIND,
  SNP_VCEK_KIND,
  vcekCollateralKey,
  type AmdKdsSourceOptions,
} from "./kds.ts";
export { parseSnpReport, REPORT_SIZE, SIGNED_LENGTH, type SnpReport } from "./report.ts";
export { SNP_PRODUCTS, type SnpProduct, type TcbVersion } from "./tcb.ts";
export {
  createSnpVerifier,
  PINNED_AMD_ANCHORS,
  snpVerifier,
  type SnpVerifier,
  type SnpVerifierConfig,
} from "./verifier.ts";
