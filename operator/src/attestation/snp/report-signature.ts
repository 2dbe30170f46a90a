/** The report's ECDSA P-384 / SHA-384 signature over bytes 0x000..0x29F. */
import { verify, type KeyObject } from "node:crypto";
import { signedRegion, type SnpReport } from "./report.ts";

export function verifyReportSignature(report: SnpReport, publicKey: KeyObject): boolean {
  const signature = Buffer.concat([report.signature.r, report.signature.s]);
  return verify("sha384", signedRegion(report), { key: publicKey, dsaEncoding: "ieee-p1363" }, signature);
}
