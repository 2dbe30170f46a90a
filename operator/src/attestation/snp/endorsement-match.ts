/**
 * Checks that a verified endorsement belongs to this report: signing key kind, product line,
 * certificate TCB SPLs equal to REPORTED_TCB, and hwID equal to CHIP_ID (unless the chip ID is masked).
 */
import { EvidenceError } from "../types.ts";
import type { Endorsement } from "./endorsement-chain.ts";
import { kdsHwId } from "./kds.ts";
import { isChipIdMasked, type SnpReport } from "./report.ts";
import { tcbComponents } from "./tcb.ts";

const mismatch = (message: string): EvidenceError => new EvidenceError("ChainInvalid", message);

export function checkSigningKeyAndProduct(report: SnpReport, endorsement: Endorsement): void {
  if (report.signingKey !== endorsement.keyKind) {
    throw mismatch(
      `report SIGNING_KEY is ${report.signingKey} but the certificate is a ${endorsement.keyKind}`,
    );
  }
  if (report.cpuId !== undefined && report.product !== endorsement.product) {
    const { family, model } = report.cpuId;
    throw mismatch(
      `report CPUID family 0x${family.toString(16)} model 0x${model.toString(16)} is not a ${endorsement.product} part`,
    );
  }
  // Version 2 reports carry no CPUID and predate Turin, whose TCB_VERSION layout differs.
  if (report.cpuId === undefined && endorsement.product === "Turin") {
    throw mismatch("a version 2 report cannot come from a Turin chip");
  }
}

/** Every mismatch is one message; an empty list means the certificate's TCB and hwID fit the report. */
export function endorsementMismatches(report: SnpReport, endorsement: Endorsement): string[] {
  const problems: string[] = [];
  const { spl, hwId } = endorsement.extensions;
  for (const component of tcbComponents(report.turinTcbLayout)) {
    const certified = spl[component];
    const reported = report.reportedTcb[component];
    if (certified !== reported) {
      problems.push(
        `certificate ${component} SPL ${certified ?? "absent"} differs from REPORTED_TCB ${reported ?? "absent"}`,
      );
    }
  }
  if (endorsement.keyKind === "vcek" && !isChipIdMasked(report)) {
    const expected = kdsHwId(endorsement.product, report.chipId);
    if (hwId === undefined) problems.push("VCEK has no hwID extension");
    else if (!Buffer.from(hwId).equals(expected))
      problems.push("VCEK hwID differs from the report's CHIP_ID");
  }
  return problems;
}
