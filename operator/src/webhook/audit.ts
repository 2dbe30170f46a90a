// Webhook audit mode, for a gradual rollout: a workload the gate would refuse is admitted with a warning and an
// Event saying what would have been refused. Unlike failurePolicy Ignore (which admits whatever arrives while the
// webhook is unreachable), the webhook still judges every request and an outage still fails closed; only the
// workload gate is relaxed: ConfidentialVM and AttestationPolicy checks protect trustgate's own objects and stay.

import type { CoreV1Event } from "@kubernetes/client-node";
import { GROUP, VERSION } from "../api/v1alpha1/generated/types.ts";
import { type AdmissionDecision, type AdmissionRequest, metadataOf } from "./admission-review.ts";
import type { AdmissionTarget } from "./validate.ts";
import { requiredConfidentialVMs, workloadKey } from "./workloads.ts";

export type WebhookMode = "enforce" | "audit";

export const AUDIT_WARNING_PREFIX = "trustgate audit mode, not enforced: would refuse: ";
/** The Event reason of an audited refusal. */
export const REASON_WOULD_REFUSE = "AdmissionWouldBeRefused";

export function parseWebhookMode(text: string | undefined): WebhookMode {
  if (text === undefined || text === "enforce") return "enforce";
  if (text === "audit") return "audit";
  throw new Error(`must be enforce or audit, not ${JSON.stringify(text)}`);
}

/** The decision to send, and in audit mode the refusal it replaced (for the Event and the log). */
export function applyWebhookMode(
  mode: WebhookMode,
  target: AdmissionTarget,
  decision: AdmissionDecision,
): { decision: AdmissionDecision; wouldRefuse?: string } {
  if (mode === "enforce" || target !== "workloads" || decision.allowed) return { decision };
  const refusal = decision.message ?? `refused with code ${String(decision.code ?? 403)}`;
  return {
    decision: {
      allowed: true,
      warnings: [...(decision.warnings ?? []), `${AUDIT_WARNING_PREFIX}${refusal}`],
    },
    wouldRefuse: refusal,
  };
}

/**
 * The Event recording an audited refusal, in the workload's namespace: about the ConfidentialVM the workload
 * names (so `kubectl describe confidentialvm` shows it), else about the workload itself.
 */
export function auditEvent(
  request: AdmissionRequest,
  refusal: string,
  now: Date,
  instance: string,
): CoreV1Event {
  const namespace = request.namespace ?? metadataOf(request.object).namespace ?? "default";
  const metadata = metadataOf(request.object);
  const workloadName =
    request.name || metadata.name || (metadata as { generateName?: string }).generateName || "";
  const [cvm] = requiredConfidentialVMs(workloadKey(request), request.object).names;
  const involvedObject =
    cvm === undefined
      ? {
          apiVersion:
            request.kind.group === ""
              ? request.kind.version
              : `${request.kind.group}/${request.kind.version}`,
          kind: request.kind.kind,
          namespace,
          name: workloadName,
        }
      : { apiVersion: `${GROUP}/${VERSION}`, kind: "ConfidentialVM", namespace, name: cvm };
  const what = `${request.operation} ${request.kind.kind} ${namespace}/${workloadName || "(generated name)"}`;
  return {
    metadata: { generateName: `${involvedObject.name || "trustgate"}.`, namespace },
    involvedObject,
    type: "Warning",
    reason: REASON_WOULD_REFUSE,
    message: `audit mode: admitted ${what}, which enforce mode would refuse: ${refusal}`.slice(0, 1024),
    source: { component: "trustgate-webhook" },
    reportingComponent: "trustgate.io/webhook",
    reportingInstance: instance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}
