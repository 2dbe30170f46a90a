/**
 * The SEV-SNP TeeVerifier: parse the report, find and verify its VCEK/VLEK chain to a pinned ARK, check that the
 * certificate fits the report (key kind, product, TCB, hwID), verify the report signature, and return the claims.
 * `verify` never throws: every failure becomes an error entry, and `authentic` is true only when all checks pass.
 */
import {
  EvidenceError,
  toVerificationError,
  type Claims,
  type TeeEvidence,
  type TeeVerification,
  type TeeVerifier,
  type VerificationError,
  type VerifyOptions,
} from "../types.ts";
import { amdCrlErrors } from "./amd-crl.ts";
import { AMD_INTERMEDIATES } from "./amd-intermediates.ts";
import { certChainCollateralKey, SNP_CRL_KIND } from "./kds.ts";
import { AMD_ARKS } from "./amd-roots.ts";
import { snpClaims } from "./claims.ts";
import { EndorsementVerifier, type Endorsement, type TrustAnchors } from "./endorsement-chain.ts";
import { checkSigningKeyAndProduct, endorsementMismatches } from "./endorsement-match.ts";
import { chainFromCollateral, endorsementMaterial } from "./endorsement-source.ts";
import { decodeBase64Strict } from "../../crypto/pem.ts";
import { parseSnpReport, type SnpReport } from "./report.ts";
import { verifyReportSignature } from "./report-signature.ts";
import { SNP_PRODUCTS } from "./tcb.ts";

export interface SnpVerifierConfig {
  /** Trust anchors; defaults to the pinned AMD ARKs (and the published ASK/ASVKs as chain helpers). */
  anchors?: TrustAnchors;
  /** Verified chains kept in memory (default 1024; 0 disables the cache). */
  chainCacheEntries?: number;
}

export interface SnpVerifier extends TeeVerifier {
  readonly type: "snp";
  readonly endorsements: EndorsementVerifier;
}

export const PINNED_AMD_ANCHORS: TrustAnchors = {
  arks: SNP_PRODUCTS.map((product) => AMD_ARKS[product]),
  intermediates: AMD_INTERMEDIATES,
};

function bindingError(report: SnpReport, expected: Uint8Array | undefined): VerificationError | undefined {
  if (expected === undefined) return undefined;
  if (Buffer.from(report.reportData).equals(Buffer.from(expected))) return undefined;
  const actual = Buffer.from(report.reportData).toString("hex");
  return { code: "BindingMismatch", message: `REPORT_DATA ${actual} differs from the expected report data` };
}

async function endorse(
  endorsements: EndorsementVerifier,
  report: SnpReport,
  evidence: TeeEvidence,
  options: VerifyOptions,
): Promise<Endorsement> {
  if (report.signingKey === "none") {
    throw new EvidenceError("SignatureInvalid", "the report is not signed (SIGNING_KEY = none)");
  }
  const { leaf, chain } = await endorsementMaterial(report, evidence, options.collateral);
  try {
    return endorsements.verify(leaf, chain, options.now);
  } catch (error) {
    // A chain the evidence and the built-ins lack (e.g. a re-issued ASK) may still come from the collateral source.
    const collateral = options.collateral;
    const chainMissing = error instanceof EvidenceError && error.code === "ChainInvalid";
    if (!chainMissing || collateral === undefined) throw error;
    const kind = report.signingKey === "vlek" ? "vlek" : "vcek";
    const products = report.product === undefined ? SNP_PRODUCTS : [report.product];
    const fetched = await Promise.all(products.map((p) => chainFromCollateral(p, kind, collateral)));
    if (fetched.every((c) => c.length === 0)) throw error;
    return endorsements.verify(leaf, [...chain, ...fetched.flat()], options.now);
  }
}

/**
 * AMD's CRL for the endorsement's ASK/ASVK, when the collateral source has it (KDS, or an offline directory): a
 * revoked intermediate is CertificateRevoked. Without a collateral source, or without a CRL there, it is not checked.
 */
async function revocationErrors(
  endorsement: Endorsement,
  options: VerifyOptions,
  stale: string[],
): Promise<VerificationError[]> {
  const collateral = options.collateral;
  if (collateral === undefined) return [];
  const crl = await collateral.get(
    SNP_CRL_KIND,
    certChainCollateralKey(endorsement.product, endorsement.keyKind === "vlek" ? "vlek" : "vcek"),
  );
  return crl === undefined
    ? []
    : amdCrlErrors(crl, endorsement, options.now, { ms: options.collateralGraceMs ?? 0, stale });
}

interface SnpOutcome {
  authentic: boolean;
  claims: Claims;
  errors: VerificationError[];
  stale?: string[];
}

async function verifySnp(
  endorsements: EndorsementVerifier,
  evidence: TeeEvidence,
  options: VerifyOptions,
): Promise<SnpOutcome> {
  if (!(options.now instanceof Date) || Number.isNaN(options.now.getTime())) {
    throw new Error("VerifyOptions.now must be a valid Date");
  }
  if (evidence.type !== "snp") {
    throw new EvidenceError("UnsupportedTee", `not SEV-SNP evidence: ${evidence.type}`);
  }
  if (evidence.report === undefined) throw new EvidenceError("EvidenceMalformed", "tee.report is missing");
  const report = parseSnpReport(decodeBase64Strict(evidence.report, "tee.report"));
  const errors: VerificationError[] = [];
  const binding = bindingError(report, options.expectedReportData);
  if (binding !== undefined) errors.push(binding);

  let endorsement: Endorsement;
  try {
    endorsement = await endorse(endorsements, report, evidence, options);
    checkSigningKeyAndProduct(report, endorsement);
  } catch (error) {
    errors.push(toVerificationError(error));
    return { authentic: false, claims: snpClaims(report, report.product), errors };
  }
  const problems = endorsementMismatches(report, endorsement);
  const authenticityErrors: VerificationError[] = problems.map((message) => ({
    code: "ChainInvalid",
    message,
  }));
  const stale: string[] = [];
  authenticityErrors.push(...(await revocationErrors(endorsement, options, stale)));
  if (!verifyReportSignature(report, endorsement.publicKey)) {
    const signer = endorsement.keyKind.toUpperCase();
    authenticityErrors.push({
      code: "SignatureInvalid",
      message: `report signature does not verify under the ${signer}`,
    });
  }
  return {
    authentic: authenticityErrors.length === 0,
    claims: snpClaims(report, endorsement.product, endorsement.extensions),
    errors: [...errors, ...authenticityErrors],
    ...(stale.length === 0 ? {} : { stale }),
  };
}

export function createSnpVerifier(config: SnpVerifierConfig = {}): SnpVerifier {
  const endorsements = new EndorsementVerifier(
    config.anchors ?? PINNED_AMD_ANCHORS,
    config.chainCacheEntries,
  );
  return {
    type: "snp",
    endorsements,
    async verify(evidence: TeeEvidence, options: VerifyOptions): Promise<TeeVerification> {
      let outcome: SnpOutcome;
      try {
        outcome = await verifySnp(endorsements, evidence, options);
      } catch (error) {
        outcome = { authentic: false, claims: {}, errors: [toVerificationError(error)] };
      }
      const { authentic, claims, errors, stale } = outcome;
      return {
        type: "snp",
        authentic,
        tcbStatus: authentic ? "UpToDate" : "Unknown",
        advisoryIds: [],
        claims,
        errors,
        ...(stale === undefined ? {} : { staleCollateral: stale }),
      };
    },
  };
}

/** The production verifier, anchored only in the pinned AMD ARKs. */
export const snpVerifier: SnpVerifier = createSnpVerifier();
