/**
 * A TDX TeeVerifier over several roots: the TDX verifier trusts one root, so this one picks, per quote, the verifier
 * whose root anchors the quote's PCK chain (its last certificate is that root, or was issued by it). A quote under
 * any other root goes to the default verifier, which refuses it as it refuses any foreign root; so does a quote
 * that does not parse. Which verifier runs is decided by the evidence, but each verifies it fully to its own root.
 */
import type { X509Certificate } from "node:crypto";
import { parsePemCertificates } from "../../crypto/pem.ts";
import type { TeeEvidence, TeeVerification, TeeVerifier, VerifyOptions } from "../types.ts";
import { parseCertificate } from "./cert-chain.ts";
import { parseTdxQuote } from "./quote.ts";
import { createTdxVerifier } from "./verifier.ts";
import type { TdxTrustAnchors } from "./trust-anchors.ts";

/** The last certificate of the quote's PCK chain; undefined when the evidence has no parsable quote. */
export function pckChainTop(evidence: TeeEvidence): X509Certificate | undefined {
  try {
    const quote = parseTdxQuote(Buffer.from(evidence.quote ?? "", "base64"));
    const chain = parsePemCertificates(quote.pckCertChain, "PCK certificate chain");
    const last = chain.at(-1);
    return last === undefined ? undefined : parseCertificate(last, "PCK certificate chain");
  } catch {
    return undefined;
  }
}

function anchoredBy(top: X509Certificate, root: X509Certificate): boolean {
  if (top.raw.equals(root.raw)) return true;
  return top.checkIssued(root) && top.verify(root.publicKey);
}

/** Verifies with `fallback` unless the quote's PCK chain ends in (or under) one of `others`' roots. */
export function createTdxVerifierByRoot(
  fallback: TeeVerifier,
  others: readonly TdxTrustAnchors[],
): TeeVerifier {
  const candidates = others.map((anchors) => ({
    root: anchors.root,
    verifier: createTdxVerifier({ anchors }),
  }));
  return {
    type: "tdx",
    verify(evidence: TeeEvidence, options: VerifyOptions): Promise<TeeVerification> {
      const top = evidence.type === "tdx" ? pckChainTop(evidence) : undefined;
      const chosen = top === undefined ? undefined : candidates.find(({ root }) => anchoredBy(top, root));
      return (chosen?.verifier ?? fallback).verify(evidence, options);
    },
  };
}
