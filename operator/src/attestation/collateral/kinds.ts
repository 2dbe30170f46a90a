/**
 * Collateral kinds and keys understood by the Intel sources (offline directory, PCS/PCCS). Values are the bytes
 * as Intel serves them: TCB info / QE identity response bodies (`{"tcbInfo":…,"signature":…}`), CRLs as DER
 * (PEM or hex accepted), issuer chains as PEM. A source built with PCS `update=early` serves the same kinds and
 * keys with Intel's early TCB info and QE identity (the TCB drift warning, tdx/tcb-drift-check.ts).
 */
export const TDX_TCB_INFO = "tdx-tcb-info";
export const TDX_TCB_INFO_ISSUER_CHAIN = "tdx-tcb-info-issuer-chain";
export const TDX_QE_IDENTITY = "tdx-qe-identity";
export const TDX_QE_IDENTITY_ISSUER_CHAIN = "tdx-qe-identity-issuer-chain";
export const SGX_PCK_CRL = "sgx-pck-crl";
export const SGX_PCK_CRL_ISSUER_CHAIN = "sgx-pck-crl-issuer-chain";
export const SGX_ROOT_CA_CRL = "sgx-root-ca-crl";
/**
 * Intel's TCB evaluation data numbers (PCS `/{sgx|tdx}/certification/v4/tcbevaluationdatanumbers`, no query; the
 * body `{"tcbEvaluationDataNumbers":…,"signature":…}`, the chain in header `TCB-Evaluation-Data-Numbers-Issuer-Chain`).
 * Key: the TEE, `tdx` or `sgx`.
 */
export const TCB_EVALUATION_NUMBERS = "tcb-evaluation-numbers";
export const TCB_EVALUATION_NUMBERS_ISSUER_CHAIN = "tcb-evaluation-numbers-issuer-chain";

/** Key of the TD_QE identity. */
export const TD_QE_KEY = "td_qe";
/** Key of the Intel SGX Root CA CRL. */
export const ROOT_CA_KEY = "root";
/** Key of the TDX TCB evaluation data numbers. */
export const TDX_EVALUATION_NUMBERS_KEY = "tdx";

/** TCB info keys are the lowercase FMSPC; PCK CRL keys the CA type. */
export function tcbInfoKey(fmspc: string): string {
  return fmspc.toLowerCase();
}

export type PckCaType = "platform" | "processor";
