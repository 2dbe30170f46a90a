/**
 * Collateral as of `now`: presence, issueDate/thisUpdate..nextUpdate windows, TCB Signing certificate validity,
 * and revocation of the PCK chain and TCB signer. Signatures come from the memoized `verifyCollateralSignatures`.
 */
import type { X509Certificate } from "node:crypto";
import type { VerificationError } from "../types.ts";
import { certificateTimeErrors, isValidAt } from "./cert-chain.ts";
import type { TdxCollateral } from "./collateral-resolve.ts";
import { verifyCollateralSignatures, type SignedDocument } from "./collateral-signatures.ts";
import { isRevoked, type ParsedCrl } from "./crl.ts";
import type { VerificationMemo } from "./verification-memo.ts";
import type { PckChain } from "./pck-chain.ts";
import type { QeIdentity, TcbInfo } from "./tcb-info.ts";
import type { TdxTrustAnchors } from "./trust-anchors.ts";

export interface CollateralCheck {
  tcbInfo?: TcbInfo;
  qeIdentity?: QeIdentity;
  /** Every item present, authentic and current: the TCB status can be computed. */
  usable: boolean;
  pckRevoked: boolean;
  errors: VerificationError[];
  /** Items past nextUpdate but within the grace. */
  stale: string[];
}

const ABSENT = "\u0000absent";

function collateralKey(collateral: TdxCollateral): string[] {
  return [
    collateral.rootCaCrl ?? ABSENT,
    collateral.pckCrl ?? ABSENT,
    collateral.pckCrlIssuerChain ?? ABSENT,
    collateral.tcbInfo ?? ABSENT,
    collateral.tcbInfoSignature ?? ABSENT,
    collateral.tcbInfoIssuerChain ?? ABSENT,
    collateral.qeIdentity ?? ABSENT,
    collateral.qeIdentitySignature ?? ABSENT,
    collateral.qeIdentityIssuerChain ?? ABSENT,
  ];
}

export function checkCollateral(
  collateral: TdxCollateral,
  pck: PckChain,
  anchors: TdxTrustAnchors,
  memo: VerificationMemo,
  now: Date,
  graceMs = 0,
): CollateralCheck {
  const signed = memo.get("collateral", [...collateralKey(collateral), pck.intermediateDer, anchors], () =>
    verifyCollateralSignatures(collateral, pck.intermediate, anchors),
  );
  const errors = [...signed.errors];
  const missing = (what: string): void => {
    errors.push({ code: "CollateralMissing", message: `no ${what}` });
  };
  const stale: string[] = [];
  const at = now.getTime();
  const inWindow = (what: string, from: Date, until: Date | undefined): void => {
    if (until !== undefined && at >= from.getTime() && at < until.getTime()) return;
    if (until !== undefined && at >= until.getTime() && at < until.getTime() + graceMs) {
      stale.push(`${what} passed its nextUpdate ${until.toISOString()}; accepted within the stale grace`);
      return;
    }
    errors.push({
      code: "CollateralExpired",
      message: `${what} is valid ${from.toISOString()}..${until?.toISOString() ?? "?"}, not at ${now.toISOString()}`,
    });
  };
  const signerAt = <T>(what: string, document: SignedDocument<T>): X509Certificate | undefined => {
    const signer = document.signers.find((cert) => isValidAt(cert, now));
    const first = document.signers[0];
    if (signer === undefined && first !== undefined) {
      errors.push(...certificateTimeErrors([first], now, `${what} signer`));
    }
    return signer;
  };

  const { rootCrl, pckCrl, tcbInfo, qeIdentity } = signed;
  if (collateral.rootCaCrl === undefined) missing("Intel SGX Root CA CRL");
  if (collateral.pckCrl === undefined) missing(`PCK ${pck.tcb.caType} CA CRL`);
  if (collateral.tcbInfo === undefined || collateral.tcbInfoSignature === undefined) missing("TCB info");
  if (collateral.qeIdentity === undefined || collateral.qeIdentitySignature === undefined) {
    missing("QE identity");
  }
  if (rootCrl !== undefined) inWindow("Intel SGX Root CA CRL", rootCrl.thisUpdate, rootCrl.nextUpdate);
  if (pckCrl !== undefined) inWindow("PCK CRL", pckCrl.thisUpdate, pckCrl.nextUpdate);
  if (tcbInfo !== undefined) inWindow("TCB info", tcbInfo.document.issueDate, tcbInfo.document.nextUpdate);
  if (qeIdentity !== undefined) {
    inWindow("QE identity", qeIdentity.document.issueDate, qeIdentity.document.nextUpdate);
  }
  const tcbSigner = tcbInfo === undefined ? undefined : signerAt("TCB info", tcbInfo);
  const qeSigner = qeIdentity === undefined ? undefined : signerAt("QE identity", qeIdentity);

  const revoked = (crl: ParsedCrl | undefined, cert: X509Certificate | undefined, what: string): boolean => {
    if (crl === undefined || cert === undefined || !isRevoked(crl, cert)) return false;
    errors.push({
      code: "CertificateRevoked",
      message: `${what} (serial ${cert.serialNumber.toLowerCase()}) is revoked`,
    });
    return true;
  };
  const pckRevoked =
    revoked(pckCrl, pck.leaf, "PCK certificate") || revoked(rootCrl, pck.intermediate, "PCK CA");
  revoked(rootCrl, tcbSigner, "TCB info signer");
  revoked(rootCrl, qeSigner, "QE identity signer");

  return {
    ...(tcbInfo === undefined ? {} : { tcbInfo: tcbInfo.document }),
    ...(qeIdentity === undefined ? {} : { qeIdentity: qeIdentity.document }),
    // Missing, expired, unsigned or revoked items all leave an error behind.
    usable: errors.length === 0,
    pckRevoked,
    errors,
    stale,
  };
}
