/**
 * The time-independent half of collateral verification, memoized by the digest of the collateral: CRL
 * signatures (root CA CRL by the pinned root, PCK CRL by the PCK's CA), issuer chains to the pinned root, and the
 * TCB info / QE identity signatures by an Intel SGX TCB Signing certificate. Time checks are done per quote.
 */
import { verify, type X509Certificate } from "node:crypto";
import { EvidenceError, toVerificationError, type VerificationError } from "../types.ts";
import { commonName, verifyChainSignatures } from "./cert-chain.ts";
import type { TdxCollateral } from "./collateral-resolve.ts";
import { isCrlSignedBy, parseCrl, type ParsedCrl } from "./crl.ts";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { parseQeIdentity, parseTcbInfo, type QeIdentity, type TcbInfo } from "./tcb-info.ts";
import type { TdxTrustAnchors } from "./trust-anchors.ts";

export interface SignedDocument<T> {
  document: T;
  /** TCB Signing certificates (chained to the root) whose key verifies the signature. */
  signers: X509Certificate[];
}

export interface CollateralSignatures {
  rootCrl?: ParsedCrl;
  pckCrl?: ParsedCrl;
  tcbInfo?: SignedDocument<TcbInfo>;
  qeIdentity?: SignedDocument<QeIdentity>;
  errors: VerificationError[];
}

const TCB_SIGNER_CN = "Intel SGX TCB Signing";

function attempt<T>(errors: VerificationError[], work: () => T): T | undefined {
  try {
    return work();
  } catch (error) {
    errors.push(toVerificationError(error));
    return undefined;
  }
}

function signedCrl(base64: string, signer: X509Certificate, what: string): ParsedCrl {
  const crl = parseCrl(Buffer.from(base64, "base64"), what);
  if (!isCrlSignedBy(crl, signer)) {
    throw new EvidenceError(
      "SignatureInvalid",
      `${what} is not issued and signed by "${commonName(signer)}"`,
    );
  }
  return crl;
}

function chainToRoot(pem: string, anchors: TdxTrustAnchors, what: string): X509Certificate[] {
  return verifyChainSignatures(parsePemCertificates(pem, what), anchors.root, what);
}

function verifiesJson(data: Buffer, signature: Buffer, signer: X509Certificate): boolean {
  try {
    return verify("sha256", data, { key: signer.publicKey, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    return false;
  }
}

/**
 * The TCB Signing certificates whose key verifies `signature` (hex r||s) over `text`: the offered issuer chain's
 * leaf (chained to the root) first, then the pinned issuances, because the 2018 and 2025 issuances share one key
 * and bundles often carry the expired one. Empty, with an error pushed, when none does.
 */
export function tcbSigners(
  text: string,
  signature: string,
  issuerChain: string | undefined,
  anchors: TdxTrustAnchors,
  what: string,
  errors: VerificationError[],
): X509Certificate[] {
  if (!/^[0-9a-fA-F]{128}$/.test(signature)) {
    errors.push({ code: "EvidenceMalformed", message: `${what} signature is not 64 bytes of hex` });
    return [];
  }
  const offered =
    issuerChain === undefined
      ? []
      : (attempt(errors, () => chainToRoot(issuerChain, anchors, `${what} issuer chain`)) ?? []).slice(0, 1);
  const pinned = anchors.tcbSigningCertificates.filter(
    (cert) => cert.checkIssued(anchors.root) && cert.verify(anchors.root.publicKey),
  );
  const data = Buffer.from(text, "utf8");
  const rawSignature = Buffer.from(signature, "hex");
  const signers = [...offered, ...pinned].filter(
    (cert) => commonName(cert) === TCB_SIGNER_CN && verifiesJson(data, rawSignature, cert),
  );
  if (signers.length === 0) {
    errors.push({ code: "SignatureInvalid", message: `${what} is not signed by Intel's TCB Signing key` });
  }
  return signers;
}

/** The collateral's signed JSON documents, each with `<item>Signature` and `<item>IssuerChain` beside it. */
type SignedJsonItem = "tcbInfo" | "qeIdentity";

function signedJson<T>(
  collateral: TdxCollateral,
  item: SignedJsonItem,
  what: string,
  parse: (text: string) => T,
  anchors: TdxTrustAnchors,
  errors: VerificationError[],
): SignedDocument<T> | undefined {
  const text = collateral[item];
  const signature = collateral[`${item}Signature`];
  if (text === undefined || signature === undefined) return undefined;
  const signers = tcbSigners(text, signature, collateral[`${item}IssuerChain`], anchors, what, errors);
  if (signers.length === 0) return undefined;
  const document = attempt(errors, () => parse(text));
  return document === undefined ? undefined : { document, signers };
}

export function verifyCollateralSignatures(
  collateral: TdxCollateral,
  pckIssuer: X509Certificate,
  anchors: TdxTrustAnchors,
): CollateralSignatures {
  const errors: VerificationError[] = [];
  const result: CollateralSignatures = { errors };
  const { rootCaCrl, pckCrl, pckCrlIssuerChain } = collateral;
  if (rootCaCrl !== undefined) {
    const crl = attempt(errors, () => signedCrl(rootCaCrl, anchors.root, "Intel SGX Root CA CRL"));
    if (crl !== undefined) result.rootCrl = crl;
  }
  if (pckCrl !== undefined) {
    const crl = attempt(errors, () => signedCrl(pckCrl, pckIssuer, "PCK CRL"));
    if (crl !== undefined) result.pckCrl = crl;
  }
  if (pckCrlIssuerChain !== undefined) {
    attempt(errors, () => chainToRoot(pckCrlIssuerChain, anchors, "PCK CRL issuer chain"));
  }
  const tcb = signedJson(collateral, "tcbInfo", "TCB info", parseTcbInfo, anchors, errors);
  if (tcb !== undefined) result.tcbInfo = tcb;
  const qe = signedJson(collateral, "qeIdentity", "QE identity", parseQeIdentity, anchors, errors);
  if (qe !== undefined) result.qeIdentity = qe;
  return result;
}
