// Errors of @kubernetes/client-node (controller, webhook). The agent and guest use the light client
// (rest-client.ts) and its rest-api-error.ts, so that they never load client-node.
import { ApiException } from "@kubernetes/client-node";

/** The parts of a Kubernetes API error status that callers decide on. */
export interface ApiErrorStatus {
  code: number;
  reason: string;
  message: string;
}

function parseBody(body: unknown): Record<string, unknown> {
  if (typeof body === "string") {
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
    } catch {
      return { message: body };
    }
  }
  return typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
}

/** Reads the HTTP code, `reason` and `message` of an API error; undefined when `error` is not one. */
export function apiErrorStatus(error: unknown): ApiErrorStatus | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const body = parseBody(error.body);
  return {
    code: error.code,
    reason: typeof body["reason"] === "string" ? body["reason"] : "",
    message: typeof body["message"] === "string" ? body["message"] : String(error.body),
  };
}

export function isNotFound(error: unknown): boolean {
  return apiErrorStatus(error)?.code === 404;
}

export function isConflict(error: unknown): boolean {
  return apiErrorStatus(error)?.code === 409;
}
