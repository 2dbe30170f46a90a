import {
  API_VERSION,
  CONFIDENTIAL_HOST,
  GROUP,
  VERSION,
  type ConfidentialHost,
  type ConfidentialHostStatus,
} from "../api/v1alpha1/generated/types.ts";
import { hostReportPayload, SIGNED_STATUS_FIELDS } from "../host/host-report.ts";
import { isConflict, isNotFound } from "../kube/rest-api-error.ts";
import type { KubeJsonApi } from "../kube/rest-client.ts";

/** What was last written, as far as deciding the next write goes. */
export interface PublishedReport {
  /** comparableReport() of the written status. */
  comparable: string;
  /** observedAt of the written status, in ms. */
  observedAtMs: number;
}

export type PublishDecision =
  | { write: true; reason: "initial" | "changed" | "refresh" }
  | { write: false; reason: "unchanged" };

/**
 * The signed payload without observedAt, plus the key: two scans that compare equal found the same
 * host and would be signed by the same key.
 */
export function comparableReport(nodeName: string, status: ConfidentialHostStatus): string {
  return `${status.report?.keyId ?? ""}\n${hostReportPayload(nodeName, { ...status, observedAt: undefined })}`;
}

/** What an existing object's status says was last written; undefined when there is nothing usable. */
export function publishedReportOf(
  nodeName: string,
  status: ConfidentialHostStatus | undefined,
): PublishedReport | undefined {
  if (status?.report === undefined || status.observedAt === undefined) return undefined;
  const observedAtMs = Date.parse(status.observedAt);
  if (Number.isNaN(observedAtMs)) return undefined;
  return { comparable: comparableReport(nodeName, status), observedAtMs };
}

/**
 * Write when nothing was written yet, when the host changed, or when the last written report is
 * maxReportAgeMs old, so that a host that never changes still shows a fresh observedAt.
 */
export function decidePublish(
  previous: PublishedReport | undefined,
  next: { comparable: string; observedAtMs: number },
  maxReportAgeMs: number,
): PublishDecision {
  if (previous === undefined) return { write: true, reason: "initial" };
  if (previous.comparable !== next.comparable) return { write: true, reason: "changed" };
  if (next.observedAtMs - previous.observedAtMs >= maxReportAgeMs) return { write: true, reason: "refresh" };
  return { write: false, reason: "unchanged" };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** RFC 7386 merge patch turning `previous` into `next`: members only `previous` has become null. */
export function mergePatch(previous: unknown, next: unknown): unknown {
  if (!isPlainObject(next) || !isPlainObject(previous)) return next;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(previous)) if (!(key in next) || next[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(next)) {
    if (value === undefined) continue;
    patch[key] = mergePatch(previous[key], value);
  }
  return patch;
}

/**
 * The body for PATCH .../status: the agent's fields only (the host controller owns conditions),
 * with stale members of the current status nulled so the stored status is exactly what was signed.
 */
export function statusPatchBody(
  current: ConfidentialHostStatus | undefined,
  next: ConfidentialHostStatus,
): object {
  const fields = [...SIGNED_STATUS_FIELDS, "report"] as const;
  const status: Record<string, unknown> = {};
  for (const field of fields) {
    const value = next[field];
    status[field] = value === undefined ? null : mergePatch(current?.[field], value);
  }
  return { status };
}

const HOSTS_PATH = `/apis/${GROUP}/${VERSION}/${CONFIDENTIAL_HOST.plural}`;

/** Reads, creates and patches the node's own ConfidentialHost; nothing else. */
export class HostStatusPublisher {
  readonly #api: KubeJsonApi;
  readonly #nodeName: string;

  constructor(api: KubeJsonApi, nodeName: string) {
    this.#api = api;
    this.#nodeName = nodeName;
  }

  #path(): string {
    return `${HOSTS_PATH}/${encodeURIComponent(this.#nodeName)}`;
  }

  /** The node's ConfidentialHost, created with an empty spec when missing. */
  async ensureHost(): Promise<ConfidentialHost> {
    try {
      return (await this.#api.get(this.#path())) as ConfidentialHost;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const body: ConfidentialHost = {
      apiVersion: API_VERSION,
      kind: CONFIDENTIAL_HOST.kind,
      metadata: { name: this.#nodeName },
      spec: {},
    };
    try {
      return (await this.#api.post(HOSTS_PATH, body)) as ConfidentialHost;
    } catch (error) {
      if (!isConflict(error)) throw error;
      return (await this.#api.get(this.#path())) as ConfidentialHost;
    }
  }

  /** Merge-patches the status subresource; returns the object as stored. */
  async patchStatus(
    current: ConfidentialHostStatus | undefined,
    next: ConfidentialHostStatus,
  ): Promise<ConfidentialHost> {
    return (await this.#api.mergePatch(
      `${this.#path()}/status`,
      statusPatchBody(current, next),
    )) as ConfidentialHost;
  }
}
