import { exportJWK, generateKeyPair } from "jose";
import type { ConfidentialVMStatusEvidence } from "../../../src/api/v1alpha1/generated/types.ts";
import type { GuestPublicKey } from "../../../src/attestation/binding.ts";
import type { FakeAmdPki } from "../../../src/attestation/simulated/amd-pki.ts";
import {
  buildReport,
  signReport,
  type SyntheticReportSpec,
} from "../../../src/attestation/simulated/snp-report.ts";

/** A fresh guest key (P-256), as the guest publishes it in its evidence. */
export async function aGuestPublicKey(): Promise<GuestPublicKey> {
  const { publicKey } = await generateKeyPair("ES256");
  const jwk = await exportJWK(publicKey);
  return { kty: "EC", crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" };
}

/** SNP evidence as a guest sends it: the report built from `report`, signed by the fake PKI's VCEK. */
export function fakeSnpEvidence(
  pki: FakeAmdPki,
  report: SyntheticReportSpec,
  binding: { nonce: string; publicKey: GuestPublicKey },
): ConfidentialVMStatusEvidence {
  const signed = signReport(buildReport(report), pki.leafKey);
  return {
    ...binding,
    tee: {
      type: "snp",
      report: Buffer.from(signed).toString("base64"),
      vcek: pki.leafPem,
      certChain: pki.intermediatePem,
    },
  };
}
