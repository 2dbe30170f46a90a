import { readFile } from "node:fs/promises";
import {
  ApiextensionsV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1CustomResourceDefinition,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

const FIELD_MANAGER = "trustgate-installer";

export async function readCrdFile(path: string): Promise<V1CustomResourceDefinition[]> {
  const text = await readFile(path, "utf8");
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as unknown)
    .filter((obj): obj is V1CustomResourceDefinition => {
      const kind = (obj as { kind?: unknown } | null)?.kind;
      return kind === "CustomResourceDefinition";
    });
}

function isEstablished(crd: V1CustomResourceDefinition): boolean {
  return (crd.status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
}

/** Server-side applies each CRD, then waits until the API server serves all of them. */
export async function applyCrds(
  kc: KubeConfig,
  crds: readonly V1CustomResourceDefinition[],
  timeoutMs = 30_000,
): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  for (const crd of crds) {
    const name = crd.metadata?.name;
    if (name === undefined) throw new Error("CustomResourceDefinition without metadata.name");
    await api.patchCustomResourceDefinition(
      { name, body: crd, fieldManager: FIELD_MANAGER, force: true },
      setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
    );
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? "";
    for (;;) {
      const current = await api.readCustomResourceDefinition({ name });
      if (isEstablished(current)) break;
      if (Date.now() > deadline)
        throw new Error(`CustomResourceDefinition ${name} not Established after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
