// Builders for the webhook's unit tests and benchmark: AdmissionRequests and ConfidentialVMs as the API server sends them.
import type { ConfidentialVM } from "../../../src/api/v1alpha1/generated/types.ts";
import { LABEL_REQUIRES_ATTESTED_VM } from "../../../src/api/v1alpha1/labels.ts";
import type { AdmissionRequest, Operation } from "../../../src/webhook/admission-review.ts";
import { aConfidentialVM } from "./confidential-vm.ts";

const RESOURCES: Record<string, { group: string; resource: string }> = {
  Pod: { group: "", resource: "pods" },
  Deployment: { group: "apps", resource: "deployments" },
  StatefulSet: { group: "apps", resource: "statefulsets" },
  DaemonSet: { group: "apps", resource: "daemonsets" },
  ReplicaSet: { group: "apps", resource: "replicasets" },
  Job: { group: "batch", resource: "jobs" },
  CronJob: { group: "batch", resource: "cronjobs" },
  ConfidentialVM: { group: "trustgate.io", resource: "confidentialvms" },
  AttestationPolicy: { group: "trustgate.io", resource: "attestationpolicies" },
  Service: { group: "", resource: "services" },
};

export function aRequest(
  kind: string,
  object: Record<string, unknown> | null,
  options: { operation?: Operation; oldObject?: Record<string, unknown> | null; namespace?: string } = {},
): AdmissionRequest {
  const resource = RESOURCES[kind] ?? { group: "example.com", resource: kind.toLowerCase() };
  const version = resource.group === "" ? "v1" : resource.group === "trustgate.io" ? "v1alpha1" : "v1";
  const metadata = (object?.["metadata"] ?? options.oldObject?.["metadata"] ?? {}) as { name?: string };
  const namespace = options.namespace ?? (kind === "AttestationPolicy" ? undefined : "team-a");
  return {
    uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
    kind: { group: resource.group, version, kind },
    resource: { group: resource.group, version, resource: resource.resource },
    ...(metadata.name === undefined ? {} : { name: metadata.name }),
    ...(namespace === undefined ? {} : { namespace }),
    operation: options.operation ?? "CREATE",
    object,
    oldObject: options.oldObject ?? null,
  };
}

export function labels(cvm?: string): Record<string, string> {
  return cvm === undefined ? { app: "web" } : { app: "web", [LABEL_REQUIRES_ATTESTED_VM]: cvm };
}

export function aPod(cvm?: string, name = "web-0"): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "team-a", labels: labels(cvm) },
    spec: { containers: [{ name: "app", image: "registry.example.com/app:1" }] },
  };
}

/** A Deployment-like workload; the label on the object and the template separately. */
export function aWorkload(
  kind: string,
  on: { object?: string; template?: string } = {},
  image = "registry.example.com/app:1",
): Record<string, unknown> {
  const template = {
    metadata: { labels: labels(on.template) },
    spec: { containers: [{ name: "app", image }] },
  };
  const spec =
    kind === "CronJob"
      ? { schedule: "* * * * *", jobTemplate: { spec: { template } } }
      : { selector: { matchLabels: { app: "web" } }, template };
  return {
    apiVersion: kind === "CronJob" || kind === "Job" ? "batch/v1" : "apps/v1",
    kind,
    metadata: { name: "web", namespace: "team-a", labels: labels(on.object) },
    spec,
  };
}

/** A ConfidentialVM's status with one Attested condition and a result expiring at `expiresAt`. */
export function attestedStatus(
  status: "True" | "False",
  expiresAt: Date,
  reason: string,
  message: string,
  now = new Date(),
): NonNullable<ConfidentialVM["status"]> {
  return {
    phase: status === "True" ? "Attested" : "Attesting",
    attestation: { verifiedAt: now.toISOString(), expiresAt: expiresAt.toISOString() },
    conditions: [
      {
        type: "Attested",
        status,
        reason,
        message,
        observedGeneration: 1,
        lastTransitionTime: now.toISOString(),
      },
    ],
  };
}

/** A ConfidentialVM with status as the controller writes it once attested (or as `attested` says). */
export function anAttestedCvm(
  name: string,
  options: {
    namespace?: string;
    attested?: "True" | "False" | "Unknown" | "none";
    reason?: string;
    message?: string;
    expiresAt?: string;
    generation?: number;
    observedGeneration?: number;
    policyRef?: string;
    /** The running VMI and the one the result is of (default: both vmi-1). */
    runningInstance?: string;
    resultInstance?: string;
  } = {},
): ConfidentialVM {
  const attested = options.attested ?? "True";
  return aConfidentialVM({ tee: "snp", policyRef: options.policyRef ?? "production" }, name, {
    metadata: { namespace: options.namespace ?? "team-a", generation: options.generation ?? 1 },
    status: {
      phase: attested === "True" ? "Attested" : "Attesting",
      ...(options.runningInstance === "" ? {} : { vmInstanceUid: options.runningInstance ?? "vmi-1" }),
      attestation: {
        vmInstanceUid: options.resultInstance ?? "vmi-1",
        ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }),
      },
      conditions:
        attested === "none"
          ? []
          : [
              {
                type: "Attested",
                status: attested,
                reason: options.reason ?? (attested === "True" ? "Affirming" : "EvidenceInvalid"),
                message: options.message ?? (attested === "True" ? "attested" : "quote signature invalid"),
                lastTransitionTime: "2026-11-25T09:00:00Z",
                observedGeneration: options.observedGeneration ?? options.generation ?? 1,
              },
            ],
    },
  });
}
