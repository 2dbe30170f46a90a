/** The parts of an admission.k8s.io/v1 AdmissionReview that trustgate's validators read. */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  /** The object after the operation (CREATE, UPDATE); null on DELETE. */
  object?: Record<string, unknown> | null;
  /** The object before the operation (UPDATE, DELETE). */
  oldObject?: Record<string, unknown> | null;
  dryRun?: boolean;
}

/** What a validator decides: allowed, or denied with an HTTP-style code and a message for the user. */
export interface AdmissionDecision {
  allowed: boolean;
  /** 403 for a policy denial, 400 for a malformed request, 503 while the webhook cannot decide yet. */
  code?: number;
  message?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: "admission.k8s.io/v1";
  kind: "AdmissionReview";
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string; reason?: string };
    warnings?: string[];
  };
}

const OPERATIONS: readonly string[] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];

export type ParsedReview =
  | { ok: true; request: AdmissionRequest }
  | { ok: false; uid?: string; error: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringField(obj: Record<string, unknown>, key: string): string | undefined {
  const value = obj[key];
  return typeof value === "string" ? value : undefined;
}

function optionalObject(value: unknown): Record<string, unknown> | null | undefined {
  if (value === undefined || value === null) return value;
  return isRecord(value) ? value : undefined;
}

/**
 * Checks the shape of an AdmissionReview body (already JSON-parsed). A request without a uid cannot be
 * answered inside a review; the caller turns that into HTTP 400. Otherwise the uid is kept so the error
 * can be returned as a denial the API server shows.
 */
export function parseAdmissionReview(body: unknown): ParsedReview {
  if (!isRecord(body)) return { ok: false, error: "the body is not a JSON object" };
  if (body["apiVersion"] !== "admission.k8s.io/v1" || body["kind"] !== "AdmissionReview") {
    return {
      ok: false,
      error: `expected an admission.k8s.io/v1 AdmissionReview, got ${JSON.stringify(body["apiVersion"] ?? null)} ${JSON.stringify(body["kind"] ?? null)}`,
    };
  }
  const request = body["request"];
  if (!isRecord(request)) return { ok: false, error: "the AdmissionReview has no request" };
  const uid = stringField(request, "uid");
  if (uid === undefined || uid === "") return { ok: false, error: "the AdmissionReview request has no uid" };
  const fail = (error: string): ParsedReview => ({ ok: false, uid, error });
  const kind = request["kind"];
  const resource = request["resource"];
  if (!isRecord(kind) || typeof kind["kind"] !== "string") return fail("request.kind is missing");
  if (!isRecord(resource) || typeof resource["resource"] !== "string") {
    return fail("request.resource is missing");
  }
  const operation = stringField(request, "operation") ?? "";
  if (!OPERATIONS.includes(operation))
    return fail(`request.operation ${JSON.stringify(operation)} is unknown`);
  const object = optionalObject(request["object"]);
  const oldObject = optionalObject(request["oldObject"]);
  if (object === undefined && request["object"] !== undefined) return fail("request.object is not an object");
  if (oldObject === undefined && request["oldObject"] !== undefined) {
    return fail("request.oldObject is not an object");
  }
  const parsed: AdmissionRequest = {
    uid,
    kind: {
      group: stringField(kind, "group") ?? "",
      version: stringField(kind, "version") ?? "",
      kind: kind["kind"],
    },
    resource: {
      group: stringField(resource, "group") ?? "",
      version: stringField(resource, "version") ?? "",
      resource: resource["resource"],
    },
    operation: operation as Operation,
    object: object ?? null,
    oldObject: oldObject ?? null,
  };
  const optional = ["subResource", "name", "namespace"] as const;
  for (const key of optional) {
    const value = stringField(request, key);
    if (value !== undefined) parsed[key] = value;
  }
  if (request["dryRun"] === true) parsed.dryRun = true;
  return { ok: true, request: parsed };
}

const REASONS: Record<number, string> = {
  400: "BadRequest",
  403: "Forbidden",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** The AdmissionReview to answer with; the uid is echoed, denials carry a status code and message. */
export function admissionResponse(uid: string, decision: AdmissionDecision): AdmissionReviewResponse {
  const response: AdmissionReviewResponse["response"] = { uid, allowed: decision.allowed };
  if (!decision.allowed) {
    const code = decision.code ?? 403;
    response.status = {
      code,
      message: decision.message ?? "denied by trustgate",
      ...(REASONS[code] === undefined ? {} : { reason: REASONS[code] }),
    };
  }
  if (decision.warnings !== undefined && decision.warnings.length > 0) response.warnings = decision.warnings;
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
}

export const allow = (warnings?: string[]): AdmissionDecision =>
  warnings === undefined ? { allowed: true } : { allowed: true, warnings };

export const deny = (message: string, code = 403): AdmissionDecision => ({ allowed: false, code, message });

/** metadata of a request's object (or old object), typed loosely: it comes from the wire. */
export interface LooseMetadata {
  name?: string;
  namespace?: string;
  labels?: Record<string, unknown>;
  deletionTimestamp?: string;
}

export function metadataOf(obj: Record<string, unknown> | null | undefined): LooseMetadata {
  const metadata = obj?.["metadata"];
  return isRecord(metadata) ? metadata : {};
}

/** Follows a path of object keys; undefined as soon as one step is not an object. */
export function pathIn(obj: unknown, path: readonly string[]): unknown {
  let current = obj;
  for (const key of path) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

export { isRecord };
