import { X509Certificate } from "node:crypto";
import { INTEL_SGX_ROOT_CA_PEM, INTEL_TCB_SIGNING_PEMS } from "./intel-trust-anchors.ts";

/** What TDX verification trusts: the root, plus known TCB Signing issuances (verified against the root on use). */
export interface TdxTrustAnchors {
  root: X509Certificate;
  tcbSigningCertificates: X509Certificate[];
}

let pinned: TdxTrustAnchors | undefined;

/** The pinned Intel SGX Root CA and TCB Signing certificates. */
export function intelTrustAnchors(): TdxTrustAnchors {
  pinned ??= {
    root: new X509Certificate(INTEL_SGX_ROOT_CA_PEM.trim()),
    tcbSigningCertificates: INTEL_TCB_SIGNING_PEMS.map((pem) => new X509Certificate(pem.trim())),
  };
  return pinned;
}
