/**
 * Where the VCEK/VLEK and its chain come from: the evidence (`tee.vcek` / `tee.vlek` / `tee.certChain`) first,
 * else a CollateralSource (AMD KDS or an offline directory). Nothing found here is trusted until verified.
 */
import { EvidenceError, type CollateralSource, type TeeEvidence } from "../types.ts";
import {
  certChainCollateralKey,
  kdsHwId,
  SNP_CERT_CHAIN_KIND,
  SNP_VCEK_KIND,
  vcekCollateralKey,
} from "./kds.ts";
import { certificatesFromBytes, parsePemCertificates } from "../../crypto/pem.ts";
import { isChipIdMasked, reportedTcbWithLayout, type SnpReport } from "./report.ts";
import type { SnpProduct } from "./tcb.ts";
import { BoundedMap } from "../bounded-map.ts";

export interface EndorsementMaterial {
  leaf: Uint8Array;
  /** ASK/ASVK (and perhaps an ARK, which is ignored) from the evidence. */
  chain: Uint8Array[];
}

function missing(message: string): EvidenceError {
  return new EvidenceError("CollateralMissing", message);
}

/** Products whose KDS may hold this report's VCEK: the CPUID product, or Milan/Genoa for version 2. */
function candidateProducts(report: SnpReport): SnpProduct[] {
  if (report.product !== undefined) return [report.product];
  return report.cpuId === undefined ? ["Milan", "Genoa"] : [];
}

// Decoded PEM by its exact text: a VCEK repeats for every report of one chip and TCB, and decoding it (line
// splitting, canonical-base64 checks) costs more than the rest of the per-report parsing. Errors are not kept.
const decodedPem = new BoundedMap<string, readonly Uint8Array[]>(256);

function pemCertificates(pem: string, what: string): readonly Uint8Array[] {
  let certificates = decodedPem.get(pem);
  if (certificates === undefined) {
    certificates = parsePemCertificates(pem, what);
    decodedPem.set(pem, certificates);
  }
  return certificates;
}

async function vcekFromCollateral(report: SnpReport, collateral: CollateralSource): Promise<Uint8Array[]> {
  if (isChipIdMasked(report)) throw missing("CHIP_ID is masked, so the VCEK must come with the evidence");
  for (const product of candidateProducts(report)) {
    // REPORTED_TCB is re-decoded per product because the layout depends on it.
    const tcb = reportedTcbWithLayout(report, product === "Turin");
    const key = vcekCollateralKey(product, kdsHwId(product, report.chipId), tcb);
    const bytes = await collateral.get(SNP_VCEK_KIND, key);
    if (bytes !== undefined) return certificatesFromBytes(bytes, "collateral VCEK");
  }
  throw missing("no VCEK for this chip and TCB in the evidence or the collateral source");
}

export async function endorsementMaterial(
  report: SnpReport,
  evidence: TeeEvidence,
  collateral: CollateralSource | undefined,
): Promise<EndorsementMaterial> {
  const chain = evidence.certChain === undefined ? [] : pemCertificates(evidence.certChain, "tee.certChain");
  const field = report.signingKey === "vlek" ? "vlek" : "vcek";
  const pem = evidence[field];
  let certificates: readonly Uint8Array[];
  if (pem !== undefined && pem !== "") {
    certificates = pemCertificates(pem, `tee.${field}`);
  } else if (field === "vcek" && collateral !== undefined) {
    certificates = await vcekFromCollateral(report, collateral);
  } else {
    const other = field === "vcek" ? "vlek" : "vcek";
    const hint =
      evidence[other] === undefined
        ? ""
        : ` (the evidence carries a ${other}, but SIGNING_KEY says ${field})`;
    throw missing(`the report is signed with a ${field.toUpperCase()} but none was supplied${hint}`);
  }
  const [leaf, ...rest] = certificates;
  if (leaf === undefined) throw missing(`no ${field.toUpperCase()} certificate`);
  return { leaf, chain: [...rest, ...chain] };
}

/** The ASK/ASVK chain for a product from the collateral source, for when neither evidence nor built-ins have it. */
export async function chainFromCollateral(
  product: SnpProduct,
  kind: "vcek" | "vlek",
  collateral: CollateralSource,
): Promise<Uint8Array[]> {
  const bytes = await collateral.get(SNP_CERT_CHAIN_KIND, certChainCollateralKey(product, kind));
  return bytes === undefined ? [] : certificatesFromBytes(bytes, "collateral cert_chain");
}
