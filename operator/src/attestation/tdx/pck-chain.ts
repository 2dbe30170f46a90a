import type { KeyObject, X509Certificate } from "node:crypto";
import { EvidenceError } from "../types.ts";
import { verifyChainSignatures } from "./cert-chain.ts";
import type { VerificationMemo } from "./verification-memo.ts";
import { parsePckTcb, type PckTcb } from "./pck-certificate.ts";
import { parsePemCertificates } from "../../crypto/pem.ts";
import type { TdxTrustAnchors } from "./trust-anchors.ts";

export interface PckChain {
  leaf: X509Certificate;
  /** The PCK Platform or Processor CA. */
  intermediate: X509Certificate;
  /** Its DER, shared by every platform under that CA: the collateral memo key. */
  intermediateDer: Uint8Array;
  /** Leaf first, without the root. */
  certificates: X509Certificate[];
  leafKey: KeyObject;
  tcb: PckTcb;
}

function buildPckChain(pem: Uint8Array, anchors: TdxTrustAnchors): PckChain {
  const certificates = verifyChainSignatures(
    parsePemCertificates(pem, "PCK certificate chain"),
    anchors.root,
    "PCK certificate chain",
  );
  const [leaf, intermediate] = certificates;
  if (leaf === undefined || intermediate === undefined || certificates.length !== 2) {
    throw new EvidenceError(
      "ChainInvalid",
      `PCK chain has ${certificates.length} certificates below the root, not 2`,
    );
  }
  if (leaf.publicKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new EvidenceError("ChainInvalid", "PCK leaf key is not P-256");
  }
  return {
    leaf,
    intermediate,
    intermediateDer: intermediate.raw,
    certificates,
    leafKey: leaf.publicKey,
    tcb: parsePckTcb(leaf, intermediate),
  };
}

/** The PCK chain of a quote verified to the pinned root (signatures only; the caller checks validity times). */
export function verifyPckChain(pem: Uint8Array, anchors: TdxTrustAnchors, memo: VerificationMemo): PckChain {
  return memo.get("pck-chain", [pem, anchors], () => buildPckChain(pem, anchors));
}
