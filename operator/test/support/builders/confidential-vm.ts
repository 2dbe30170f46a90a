import type { ConfidentialVM, ConfidentialVMSpec } from "../../../src/api/v1alpha1/generated/types.ts";

export const SAMPLE_DIGEST = `sha256:${"4f53cda18c2baa0c".repeat(4)}`;

/** What a test changes beyond the spec: metadata fields (namespace, generation, ...) and the status. */
export interface ConfidentialVMOverrides {
  metadata?: Partial<ConfidentialVM["metadata"]>;
  status?: ConfidentialVM["status"];
}

/**
 * A valid ConfidentialVM with overridable spec fields, as the API server would return it (uid set; the API
 * server replaces uid and generation when a test creates it).
 */
export function aConfidentialVM(
  spec: Partial<ConfidentialVMSpec> = {},
  name = "llm-inference",
  overrides: ConfidentialVMOverrides = {},
): ConfidentialVM {
  return {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "ConfidentialVM",
    metadata: {
      name,
      namespace: "team-a",
      uid: "8d3f5a8e-0c52-4c57-9d0e-2d9b8a3c1f00",
      generation: 1,
      ...overrides.metadata,
    },
    spec: {
      tee: "tdx",
      policyRef: "production",
      image: { containerDisk: `registry.example.com/trustgate/cvm@${SAMPLE_DIGEST}` },
      resources: { cpu: 8, memory: "64Gi" },
      gpus: { count: 0 },
      runStrategy: "Always",
      ...spec,
    },
    ...(overrides.status === undefined ? {} : { status: overrides.status }),
  };
}
