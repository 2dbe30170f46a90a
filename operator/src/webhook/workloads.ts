import type { ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import { LABEL_REQUIRES_ATTESTED_VM } from "../api/v1alpha1/labels.ts";
import { CONDITION_ATTESTED } from "../api/v1alpha1/confidential-vm-conditions.ts";
import {
  type AdmissionDecision,
  type AdmissionRequest,
  allow,
  deny,
  isRecord,
  metadataOf,
  pathIn,
} from "./admission-review.ts";

export type CvmLookup = (namespace: string, name: string) => ConfidentialVM | undefined;

/** Where a workload kind carries labels: its own metadata and its pod template's (CronJob: also its job template's). */
const LABEL_PATHS: Record<string, readonly (readonly string[])[]> = {
  "/Pod": [["metadata", "labels"]],
  ...Object.fromEntries(
    ["apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet", "batch/Job"].map((key) => [
      key,
      [
        ["metadata", "labels"],
        ["spec", "template", "metadata", "labels"],
      ],
    ]),
  ),
  "batch/CronJob": [
    ["metadata", "labels"],
    ["spec", "jobTemplate", "metadata", "labels"],
    ["spec", "jobTemplate", "spec", "template", "metadata", "labels"],
  ],
};

/** The part of a workload whose change starts new pods: the pod template (CronJob: the job template). */
const TEMPLATE_PATH: Record<string, readonly string[]> = {
  "batch/CronJob": ["spec", "jobTemplate"],
};

export const WORKLOAD_KINDS: readonly string[] = Object.keys(LABEL_PATHS);

export function workloadKey(request: AdmissionRequest): string {
  return `${request.kind.group}/${request.kind.kind}`;
}

/** The ConfidentialVMs an object requires (label values, deduplicated), and label values that cannot name one. */
export function requiredConfidentialVMs(
  key: string,
  obj: Record<string, unknown> | null | undefined,
): { names: string[]; problems: string[] } {
  const names = new Set<string>();
  const problems: string[] = [];
  for (const path of LABEL_PATHS[key] ?? []) {
    const labels = pathIn(obj, path);
    if (!isRecord(labels) || !(LABEL_REQUIRES_ATTESTED_VM in labels)) continue;
    const value = labels[LABEL_REQUIRES_ATTESTED_VM];
    if (typeof value !== "string" || value === "") {
      problems.push(`${path.join(".")}["${LABEL_REQUIRES_ATTESTED_VM}"] must name a ConfidentialVM`);
    } else names.add(value);
  }
  return { names: [...names].sort(), problems };
}

export type AttestationState = { ok: true; expiresAt: Date } | { ok: false; why: string };

/** Whether a ConfidentialVM may serve workloads now: Attested=True for its current spec and a result not yet expired. */
export function attestationState(cvm: ConfidentialVM | undefined, now: Date): AttestationState {
  if (cvm === undefined) return { ok: false, why: "not found" };
  const condition = cvm.status?.conditions?.find((c) => c.type === CONDITION_ATTESTED);
  if (condition === undefined) {
    const phase = cvm.status?.phase;
    return { ok: false, why: `not attested: no Attested condition yet${phase ? ` (phase ${phase})` : ""}` };
  }
  if (condition.status !== "True") {
    return { ok: false, why: `not attested: ${condition.reason || "Unknown"}: ${condition.message || "-"}` };
  }
  const generation = cvm.metadata.generation;
  if (
    condition.observedGeneration !== undefined &&
    generation !== undefined &&
    condition.observedGeneration < generation
  ) {
    return {
      ok: false,
      why: `not attested: the Attested condition is for generation ${condition.observedGeneration}, the spec is at generation ${generation}`,
    };
  }
  const running = cvm.status?.vmInstanceUid;
  const appraised = cvm.status?.attestation?.vmInstanceUid;
  if (running !== appraised) {
    return {
      ok: false,
      why: `not attested: the result is of VM instance ${appraised ?? "(none)"}, the running instance is ${running ?? "(none)"}`,
    };
  }
  const expiresText = cvm.status?.attestation?.expiresAt;
  const expiresAt = expiresText === undefined ? Number.NaN : Date.parse(expiresText);
  if (Number.isNaN(expiresAt))
    return { ok: false, why: "not attested: it has no result expiry (status.attestation.expiresAt)" };
  if (expiresAt <= now.getTime()) {
    return { ok: false, why: `attestation expired at ${new Date(expiresAt).toISOString()}` };
  }
  return { ok: true, expiresAt: new Date(expiresAt) };
}

function describe(request: AdmissionRequest, namespace: string): string {
  const metadata = metadataOf(request.object);
  const name = request.name || metadata.name || (metadata as { generateName?: string }).generateName || "";
  return name === "" ? `${request.kind.kind} in ${namespace}` : `${request.kind.kind} ${namespace}/${name}`;
}

/** What a Pod runs: its containers, init containers and ephemeral containers (images, commands, everything). */
const POD_CODE_PATHS: readonly (readonly string[])[] = [
  ["spec", "containers"],
  ["spec", "initContainers"],
  ["spec", "ephemeralContainers"],
];

function unchangedPod(request: AdmissionRequest): boolean {
  const code = (obj: Record<string, unknown> | null | undefined) =>
    JSON.stringify(POD_CODE_PATHS.map((path) => pathIn(obj, path) ?? null));
  const names = (obj: Record<string, unknown> | null | undefined) =>
    requiredConfidentialVMs("/Pod", obj).names.join(",");
  return (
    code(request.oldObject) === code(request.object) && names(request.oldObject) === names(request.object)
  );
}

function unchangedTemplate(key: string, request: AdmissionRequest): boolean {
  const path = TEMPLATE_PATH[key] ?? ["spec", "template"];
  const before = requiredConfidentialVMs(key, request.oldObject).names.join(",");
  const after = requiredConfidentialVMs(key, request.object).names.join(",");
  return (
    before === after &&
    JSON.stringify(pathIn(request.oldObject, path)) === JSON.stringify(pathIn(request.object, path))
  );
}

/**
 * Admits a Pod or a workload template that carries `trustgate.io/requires-attested-vm: <cvm>` (on the object
 * or its pod template) only while that ConfidentialVM in the same namespace is attested (see attestationState).
 *
 * Pods are checked on CREATE, and on UPDATE (ephemeral containers included) only when what they run changes (an
 * image, a container) or the CVMs they require change: other updates (labels, finalizers, deletion) must keep
 * working. An updated Pod must satisfy what it required before and after the update, so dropping the label in the
 * same update as changing an image does not escape the check.
 * Templates are checked on CREATE, and on UPDATE only when the pod template or the required CVMs change (a
 * rollout would start pods) and the object is not being deleted; their pods are checked again on CREATE.
 */
export function decideWorkloadAdmission(
  request: AdmissionRequest,
  lookupCvm: CvmLookup,
  now: Date,
): AdmissionDecision {
  const key = workloadKey(request);
  if (LABEL_PATHS[key] === undefined) return allow([`trustgate does not validate ${key}`]);
  const subResource = request.subResource ?? "";
  if (subResource !== "" && !(key === "/Pod" && subResource === "ephemeralcontainers")) return allow();
  if (request.operation === "UPDATE") {
    if (metadataOf(request.object).deletionTimestamp !== undefined) return allow();
    if (key === "/Pod" ? unchangedPod(request) : unchangedTemplate(key, request)) return allow();
  } else if (request.operation !== "CREATE") return allow();

  const namespace = request.namespace ?? metadataOf(request.object).namespace ?? "";
  const what = describe(request, namespace);
  const { names: required, problems } = requiredConfidentialVMs(key, request.object);
  if (problems.length > 0) return deny(`trustgate: ${what}: ${problems.join("; ")}`, 400);
  const before =
    key === "/Pod" && request.operation === "UPDATE"
      ? requiredConfidentialVMs(key, request.oldObject).names
      : [];
  const names = [...new Set([...before, ...required])].sort();
  const refusals: string[] = [];
  for (const name of names) {
    const state = attestationState(lookupCvm(namespace, name), now);
    if (!state.ok) refusals.push(`ConfidentialVM ${namespace}/${name} ${state.why}`);
  }
  if (refusals.length === 0) return allow();
  return deny(`trustgate: ${what} requires an attested ConfidentialVM: ${refusals.join("; ")}`);
}
