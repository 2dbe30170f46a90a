/** The report's ECDSA P-384 / SHA-384 signature over bytes 0x000..0x29F. */
import type { KeyObject } from "node:crypto";
import { verifyP1363 } from "../../crypto/ecdsa-signature.ts";
import { signedRegion, type SnpReport } from "./report.ts";

export function verifyReportSignature(report: SnpReport, publicKey: KeyObject): boolean {
  const signature = Buffer.concat([report.signature.r, report.signature.s]);
  return verifyP1363("sha384", signedRegion(report), publicKey, signature);
}
