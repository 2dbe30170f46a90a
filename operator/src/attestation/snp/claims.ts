/** The SEV-SNP claims of `trustgate verify` (docs/evidence-bundle.md#output), derived from a parsed report. */
import type { ClaimValue, Claims } from "../types.ts";
import type { AmdCertExtensions } from "./cert-extensions.ts";
import { isChipIdMasked, type FirmwareVersion, type SnpReport } from "./report.ts";
import type { SnpProduct, TcbVersion } from "./tcb.ts";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

function tcbClaim(tcb: TcbVersion): ClaimValue {
  const { raw, bootloader, tee, snp, microcode, fmc } = tcb;
  return fmc === undefined
    ? { raw, bootloader, tee, snp, microcode }
    : { raw, fmc, bootloader, tee, snp, microcode };
}

const versionString = (v: FirmwareVersion): string => `${v.major}.${v.minor}.${v.build}`;

/**
 * `product` comes from CPUID (report v3+) or, for version 2, from the verified certificate, whose productName
 * (e.g. "Milan-B0") and VLEK csp_id are added when known.
 */
export function snpClaims(
  report: SnpReport,
  product: SnpProduct | undefined,
  certificate?: AmdCertExtensions,
): Claims {
  const claims: Claims = {
    version: report.version,
    guestSvn: report.guestSvn,
    policy: { ...report.policy },
    familyId: hex(report.familyId),
    imageId: hex(report.imageId),
    vmpl: report.vmpl,
    signatureAlgorithm: report.signatureAlgorithm,
    currentTcb: tcbClaim(report.currentTcb),
    platformInfo: { ...report.platformInfo },
    authorKeyEn: report.authorKeyEn,
    maskChipKey: report.maskChipKey,
    signingKey: report.signingKey,
    reportData: hex(report.reportData),
    measurement: hex(report.measurement),
    hostData: hex(report.hostData),
    idKeyDigest: hex(report.idKeyDigest),
    authorKeyDigest: hex(report.authorKeyDigest),
    reportId: hex(report.reportId),
    reportIdMa: hex(report.reportIdMa),
    reportedTcb: tcbClaim(report.reportedTcb),
    chipId: hex(report.chipId),
    chipIdMasked: isChipIdMasked(report),
    committedTcb: tcbClaim(report.committedTcb),
    launchTcb: tcbClaim(report.launchTcb),
    firmwareVersion: versionString(report.currentVersion),
    committedFirmwareVersion: versionString(report.committedVersion),
  };
  if (report.cpuId !== undefined) claims["cpuId"] = { ...report.cpuId };
  if (product !== undefined) claims["product"] = product;
  if (certificate?.productName !== undefined) claims["productName"] = certificate.productName;
  if (certificate?.cspId !== undefined) claims["cspId"] = certificate.cspId;
  if (report.launchMitVector !== undefined) claims["launchMitVector"] = report.launchMitVector;
  if (report.currentMitVector !== undefined) claims["currentMitVector"] = report.currentMitVector;
  return claims;
}
