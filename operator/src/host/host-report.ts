import type { ConfidentialHostStatus } from "../api/v1alpha1/generated/types.ts";
import { canonicalJson } from "../encoding/canonical-json.ts";

/** The status fields the agent signs; conditions and the report itself are not part of it. */
export const SIGNED_STATUS_FIELDS = [
  "observedAt",
  "agentVersion",
  "platform",
  "tee",
  "iommu",
  "gpus",
  "nvswitches",
  "gpuSummary",
  "podResources",
] as const satisfies readonly (keyof ConfidentialHostStatus)[];

/** What the agent's JWS signs: the node's name plus the signed status fields, as canonical JSON. */
export function hostReportPayload(nodeName: string, status: ConfidentialHostStatus): string {
  const signed: Record<string, unknown> = { nodeName };
  for (const field of SIGNED_STATUS_FIELDS) signed[field] = status[field];
  return canonicalJson(signed);
}
