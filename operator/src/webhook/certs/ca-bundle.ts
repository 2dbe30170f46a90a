import {
  type AdmissionregistrationV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { isNotFound } from "../../kube/api-error.ts";

export type JsonPatchOp =
  | { op: "test"; path: string; value: unknown }
  | { op: "replace" | "add"; path: string; value: unknown };

/**
 * The JSON patch that sets every webhook's clientConfig.caBundle of a configuration to `bundlePem`, or none
 * when all already have it. Each replace is guarded by a test of the webhook's name at that index, so a
 * configuration changed in between (webhooks reordered by an upgrade) fails the patch instead of being
 * written at the wrong place.
 */
export function caBundlePatch(config: V1ValidatingWebhookConfiguration, bundlePem: string): JsonPatchOp[] {
  const want = Buffer.from(bundlePem).toString("base64");
  const ops: JsonPatchOp[] = [];
  (config.webhooks ?? []).forEach((webhook, i) => {
    if (webhook.clientConfig.caBundle === want) return;
    ops.push({ op: "test", path: `/webhooks/${i}/name`, value: webhook.name });
    ops.push({ op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: want });
  });
  return ops;
}

/**
 * Makes the named ValidatingWebhookConfigurations trust `bundlePem`. Returns the names that do not exist
 * (yet): the caller retries soon, e.g. while a Helm install is still creating them.
 */
export async function ensureCaBundle(
  api: AdmissionregistrationV1Api,
  names: readonly string[],
  bundlePem: string,
  log: Logger,
): Promise<{ patched: string[]; missing: string[] }> {
  const patched: string[] = [];
  const missing: string[] = [];
  for (const name of names) {
    let config: V1ValidatingWebhookConfiguration;
    try {
      config = await api.readValidatingWebhookConfiguration({ name });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      missing.push(name);
      continue;
    }
    const ops = caBundlePatch(config, bundlePem);
    if (ops.length === 0) continue;
    await api.patchValidatingWebhookConfiguration(
      { name, body: ops },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    patched.push(name);
    log.info(
      { configuration: name, webhooks: ops.length / 2 },
      "Patched caBundle of ValidatingWebhookConfiguration",
    );
  }
  return { patched, missing };
}
