import { GROUP } from "../api/v1alpha1/generated/types.ts";
import { type AdmissionDecision, type AdmissionRequest, allow, deny } from "./admission-review.ts";
import {
  decideConfidentialVMAdmission,
  decidePolicyDeletion,
  type PolicyLookup,
  type PolicyUsers,
} from "./policies.ts";
import { type CvmLookup, decideWorkloadAdmission, WORKLOAD_KINDS, workloadKey } from "./workloads.ts";

/** What the validators read: the webhook's watch caches, never the API server per request. */
export interface AdmissionView {
  /** False until every cache has listed once: the webhook then refuses rather than guess (fail closed). */
  synced(): boolean;
  cvm: CvmLookup;
  policy: PolicyLookup;
  policyUsers: PolicyUsers;
}

/** The admission paths the server routes, one per webhook of the ValidatingWebhookConfiguration. */
export const ADMISSION_PATHS = {
  workloads: "/validate/workloads",
  confidentialVMs: "/validate/confidentialvms",
  attestationPolicies: "/validate/attestationpolicies",
} as const;

export type AdmissionTarget = keyof typeof ADMISSION_PATHS;

/** Which validator a request belongs to, from what it is (not from the path it came in on). */
export function targetOf(request: AdmissionRequest): AdmissionTarget | undefined {
  if (request.resource.group === GROUP && request.resource.resource === "confidentialvms")
    return "confidentialVMs";
  if (request.resource.group === GROUP && request.resource.resource === "attestationpolicies") {
    return "attestationPolicies";
  }
  return WORKLOAD_KINDS.includes(workloadKey(request)) ? "workloads" : undefined;
}

/**
 * The one entry point: routes a request to its validator by what it is, not by the path it came on. A
 * request on the wrong path means the webhook configuration is wrong: a kind trustgate gates is still
 * judged (fail closed, with a warning); any other kind is allowed with a warning rather than blocked.
 * A validator that throws denies (fail closed) with the error.
 */
export function validateAdmission(
  path: AdmissionTarget,
  request: AdmissionRequest,
  view: AdmissionView,
  now: Date,
): AdmissionDecision {
  const target = targetOf(request);
  const misrouted =
    target === path
      ? []
      : [
          `trustgate: ${request.kind.kind} (${request.resource.group}/${request.resource.resource}) was sent to ${ADMISSION_PATHS[path]}, which does not validate it; check the ValidatingWebhookConfiguration`,
        ];
  if (target === undefined) return allow(misrouted);
  const decision = decide(target, request, view, now);
  return misrouted.length === 0
    ? decision
    : { ...decision, warnings: [...misrouted, ...(decision.warnings ?? [])] };
}

function decide(
  target: AdmissionTarget,
  request: AdmissionRequest,
  view: AdmissionView,
  now: Date,
): AdmissionDecision {
  if (!view.synced()) {
    return deny(
      "trustgate: the admission webhook is starting and has not synced its caches yet; retry shortly",
      503,
    );
  }
  try {
    switch (target) {
      case "workloads":
        return decideWorkloadAdmission(request, view.cvm, now);
      case "confidentialVMs":
        return decideConfidentialVMAdmission(request, view.policy);
      case "attestationPolicies":
        return decidePolicyDeletion(request, view.policyUsers);
    }
  } catch (error) {
    return deny(`trustgate: the admission webhook failed to decide: ${(error as Error).message}`, 500);
  }
}
