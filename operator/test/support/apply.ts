import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "./samples.ts";

/** Server-side applies every document of a manifest file (relative to the repo root), like kubectl apply --server-side. */
export async function applyManifestFile(kc: KubeConfig, relativePath: string): Promise<KubernetesObject[]> {
  const text = await readFile(join(REPO_ROOT, relativePath), "utf8");
  const api = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    const obj = doc.toJS() as KubernetesObject | null;
    if (obj === null) continue;
    applied.push(
      await api.patch(obj, undefined, undefined, "trustgate-test", true, PatchStrategy.ServerSideApply),
    );
  }
  return applied;
}

export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
