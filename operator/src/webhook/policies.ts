import type { AttestationPolicy, ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import {
  type AdmissionDecision,
  type AdmissionRequest,
  allow,
  deny,
  metadataOf,
  pathIn,
} from "./admission-review.ts";

export type PolicyLookup = (name: string) => AttestationPolicy | undefined;
/** The ConfidentialVMs (any namespace) whose spec.policyRef names this AttestationPolicy. */
export type PolicyUsers = (policyName: string) => readonly ConfidentialVM[];

/** How many referencing ConfidentialVMs a denial lists by name. */
export const LISTED_USERS = 5;

/**
 * ConfidentialVM CREATE, and UPDATE that changes spec.policyRef: the AttestationPolicy it names must exist
 * (beyond what CEL can check: another object). Updates that keep the policy, and updates of a CVM being
 * deleted (its finalizer must come off even when the policy is gone), are allowed.
 */
export function decideConfidentialVMAdmission(
  request: AdmissionRequest,
  lookupPolicy: PolicyLookup,
): AdmissionDecision {
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") return allow();
  if (request.subResource !== undefined && request.subResource !== "") return allow();
  const metadata = metadataOf(request.object);
  const policyRef = pathIn(request.object, ["spec", "policyRef"]);
  if (request.operation === "UPDATE") {
    if (metadata.deletionTimestamp !== undefined) return allow();
    if (pathIn(request.oldObject, ["spec", "policyRef"]) === policyRef) return allow();
  }
  const name = `${request.namespace ?? metadata.namespace ?? ""}/${request.name || metadata.name || ""}`;
  if (typeof policyRef !== "string" || policyRef === "") {
    return deny(`trustgate: ConfidentialVM ${name}: spec.policyRef must name an AttestationPolicy`, 400);
  }
  if (lookupPolicy(policyRef) === undefined) {
    return deny(
      `trustgate: ConfidentialVM ${name}: spec.policyRef: AttestationPolicy "${policyRef}" not found ` +
        `(create the policy first; one created a moment ago may take a second to be seen)`,
    );
  }
  return allow();
}

/** AttestationPolicy DELETE is refused while a ConfidentialVM references it; a few of them are named. */
export function decidePolicyDeletion(request: AdmissionRequest, users: PolicyUsers): AdmissionDecision {
  if (request.operation !== "DELETE") return allow();
  const name = request.name || metadataOf(request.oldObject).name || "";
  if (name === "") return deny("trustgate: AttestationPolicy DELETE without a name", 400);
  const referencing = users(name)
    .map((cvm) => `${cvm.metadata.namespace ?? ""}/${cvm.metadata.name ?? ""}`)
    .sort();
  if (referencing.length === 0) return allow();
  const listed = referencing.slice(0, LISTED_USERS).join(", ");
  const more = referencing.length > LISTED_USERS ? ` and ${referencing.length - LISTED_USERS} more` : "";
  const count = referencing.length === 1 ? "1 ConfidentialVM" : `${referencing.length} ConfidentialVMs`;
  return deny(
    `trustgate: AttestationPolicy "${name}" is still referenced by ${count}: ${listed}${more}; ` +
      `delete them or change their spec.policyRef first`,
  );
}
