import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { ConfidentialVMSpec } from "../../src/api/v1alpha1/generated/types.ts";
import { aConfidentialVM } from "./builders/confidential-vm.ts";

/** Creates the ConfidentialVM namespace/name: the builder's valid spec with `spec` over it. */
export async function createConfidentialVM(
  kc: KubeConfig,
  namespace: string,
  name: string,
  spec: Partial<ConfidentialVMSpec>,
): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: "trustgate.io",
    version: "v1alpha1",
    plural: "confidentialvms",
    namespace,
    body: aConfidentialVM(spec, name, { metadata: { namespace } }),
  });
}
