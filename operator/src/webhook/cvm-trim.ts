import type { ConfidentialVM } from "../api/v1alpha1/generated/types.ts";

/**
 * What admission decides on of a ConfidentialVM (workloads.ts attestationState, policies.ts): its metadata,
 * spec.policyRef, phase, conditions, the running VM instance and the result's expiry and instance. Everything else in status (an evidence bundle
 * of up to 1 MiB, the signed result, released secrets) stays out of the webhook's cache, so its heap does
 * not grow with the bundles and a thousand CVMs fit its memory limit.
 */
export function trimForAdmission(cvm: ConfidentialVM): void {
  cvm.spec = { policyRef: cvm.spec.policyRef } as ConfidentialVM["spec"];
  const status = cvm.status;
  if (status === undefined) return;
  const attestation = status.attestation;
  cvm.status = {
    ...(status.phase === undefined ? {} : { phase: status.phase }),
    ...(status.conditions === undefined ? {} : { conditions: status.conditions }),
    ...(status.vmInstanceUid === undefined ? {} : { vmInstanceUid: status.vmInstanceUid }),
    ...(attestation === undefined
      ? {}
      : {
          attestation: {
            ...(attestation.expiresAt === undefined ? {} : { expiresAt: attestation.expiresAt }),
            ...(attestation.vmInstanceUid === undefined ? {} : { vmInstanceUid: attestation.vmInstanceUid }),
          },
        }),
  };
}
