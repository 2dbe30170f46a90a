import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { ConfidentialHost, ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { isNotFound } from "../../src/kube/api-error.ts";

const TRUSTGATE = { group: "trustgate.io", version: "v1alpha1" };

async function orUndefined<T>(read: Promise<unknown>): Promise<T | undefined> {
  try {
    return (await read) as T;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The ConfidentialVM, or undefined when it does not exist (yet, or any more). */
export function readConfidentialVM(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<ConfidentialVM | undefined> {
  return orUndefined(
    kc
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({ ...TRUSTGATE, namespace, plural: "confidentialvms", name }),
  );
}

/** The ConfidentialVM; throws when it does not exist. */
export async function readExistingConfidentialVM(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<ConfidentialVM> {
  const cvm = await readConfidentialVM(kc, namespace, name);
  if (cvm === undefined) throw new Error(`${namespace}/${name} is gone`);
  return cvm;
}

/** The ConfidentialHost, or undefined when it does not exist. */
export function readConfidentialHost(kc: KubeConfig, name: string): Promise<ConfidentialHost | undefined> {
  return orUndefined(
    kc
      .makeApiClient(CustomObjectsApi)
      .getClusterCustomObject({ ...TRUSTGATE, plural: "confidentialhosts", name }),
  );
}
