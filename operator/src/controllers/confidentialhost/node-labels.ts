import { ANNOTATION_OWNED_LABELS } from "../../api/v1alpha1/labels.ts";

export interface NodeMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A JSON merge patch of Node metadata; `null` removes a key. */
export interface NodeMetadataPatch {
  metadata: { labels: Record<string, string | null>; annotations: Record<string, string | null> };
}

function ownedKeys(annotations: Record<string, string> | undefined): string[] {
  const raw = annotations?.[ANNOTATION_OWNED_LABELS];
  return raw === undefined || raw === "" ? [] : raw.split(",").filter((k) => k !== "");
}

/**
 * The patch that makes a Node carry `desired`, removing only labels this controller set before (recorded
 * in the owned-labels annotation, NFD master style); undefined when the Node already matches.
 */
export function planNodeLabels(
  node: NodeMetadata,
  desired: Record<string, string>,
): NodeMetadataPatch | undefined {
  const current = node.labels ?? {};
  const labels: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(desired)) if (current[key] !== value) labels[key] = value;
  for (const key of ownedKeys(node.annotations)) if (!(key in desired) && key in current) labels[key] = null;

  const owned = Object.keys(desired).sort().join(",");
  const annotations: Record<string, string | null> = {};
  if ((node.annotations?.[ANNOTATION_OWNED_LABELS] ?? "") !== owned) {
    annotations[ANNOTATION_OWNED_LABELS] = owned === "" ? null : owned;
  }
  if (Object.keys(labels).length === 0 && Object.keys(annotations).length === 0) return undefined;
  return { metadata: { labels, annotations } };
}
