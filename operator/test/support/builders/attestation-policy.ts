import type { AttestationPolicy, AttestationPolicySpec } from "../../../src/api/v1alpha1/generated/types.ts";

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
