import type { AttestationPolicy, AttestationPolicySpec } from "../../../src/api/v1alpha1/generated/types.ts";
import { SIMULATED_SNP_MEASUREMENT } from "../../../src/attestation/simulated/simulated-snp.ts";
import { SIMULATED_TDX_MRTD } from "../../../src/attestation/simulated/simulated-tdx.ts";

/** What the simulated SNP TEE and GPUs satisfy: its launch measurement; no RIM service or OCSP responder to ask. */
export const SIMULATED_SNP_POLICY_SPEC: AttestationPolicySpec = {
  snp: { measurement: [SIMULATED_SNP_MEASUREMENT] },
  gpu: { requireRimMatch: false, requireRevocationCheck: false },
};

/** What the simulated TDX TEE and GPUs satisfy: its MRTD; no RIM service or OCSP responder to ask. */
export const SIMULATED_TDX_POLICY_SPEC: AttestationPolicySpec = {
  tdx: { mrTd: [SIMULATED_TDX_MRTD] },
  gpu: { requireRimMatch: false, requireRevocationCheck: false },
};

/** An AttestationPolicy to create: `spec` as given (an empty one checks only what every policy checks). */
export function anAttestationPolicy(
  name: string,
  spec: AttestationPolicySpec = {},
  metadata: Omit<AttestationPolicy["metadata"], "name"> = {},
): AttestationPolicy {
  return {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "AttestationPolicy",
    metadata: { ...metadata, name },
    spec,
  };
}
