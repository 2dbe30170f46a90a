import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { isNotFound } from "../../src/kube/api-error.ts";

/**
 * Deletes a suite's Nodes and ConfidentialHosts from the shared API server, so that its validated hosts
 * (whose controller has stopped) are not placement candidates for later suites.
 */
export async function removeHosts(kc: KubeConfig, names: readonly string[]): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  const ignoreMissing = (error: unknown): void => {
    if (!isNotFound(error)) throw error;
  };
  for (const name of names) {
    await objects
      .deleteClusterCustomObject({
        group: "trustgate.io",
        version: "v1alpha1",
        plural: "confidentialhosts",
        name,
      })
      .catch(ignoreMissing);
    await core.deleteNode({ name }).catch(ignoreMissing);
  }
}
