/**
 * How every component logs an error: `{type, code, reason, message}` and the causes' messages, never an HTTP
 * client's response headers or body dump (client-node's ApiException carries both, about 1.5 KB) and no stack
 * unless the logger runs at debug level. Duck-typed so the agent and guest need not load @kubernetes/client-node.
 */

import { inspect } from "node:util";

/** What `err` becomes in a log line. */
export interface LoggedError {
  type: string;
  message: string;
  /** HTTP status of an API error, or a system error code (ECONNREFUSED, ERR_TLS_...). */
  code?: number | string;
  /** The Kubernetes Status reason (NotFound, Conflict, Forbidden, ...). */
  reason?: string;
  /** Messages of the error's causes, outermost first (fetch's "fetch failed" says nothing without them). */
  causes?: string[];
  stack?: string;
}

/** Longer messages are cut here: a Status message or a body excerpt, not a whole response. */
export const MAX_LOGGED_MESSAGE = 200;

function clip(text: string): string {
  return text.length <= MAX_LOGGED_MESSAGE ? text : `${text.slice(0, MAX_LOGGED_MESSAGE)}…`;
}

function statusBody(body: unknown): Record<string, unknown> | undefined {
  let parsed = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      return { message: body };
    }
  }
  return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
}

/** client-node's ApiException: a numeric code, the response body and headers; its message embeds both. */
function apiException(error: Error): LoggedError | undefined {
  const fields = error as Error & { code?: unknown; body?: unknown; headers?: unknown };
  if (typeof fields.code !== "number" || !("body" in fields) || !("headers" in fields)) return undefined;
  const body = statusBody(fields.body);
  const reason = typeof body?.["reason"] === "string" ? body["reason"] : undefined;
  const message =
    typeof body?.["message"] === "string" && body["message"] !== ""
      ? body["message"]
      : `HTTP ${String(fields.code)}`;
  return {
    type: error.name === "Error" ? "ApiException" : error.name,
    code: fields.code,
    ...(reason === undefined || reason === "" ? {} : { reason }),
    message: clip(message),
  };
}

function causesOf(error: Error): string[] {
  const causes: string[] = [];
  const seen = new Set<unknown>([error]);
  for (let cause = error.cause; cause !== undefined && cause !== null && !seen.has(cause); ) {
    seen.add(cause);
    if (!(cause instanceof Error)) {
      causes.push(clip(inspect(cause, { depth: 1, breakLength: Infinity })));
      break;
    }
    const code = (cause as { code?: unknown }).code;
    causes.push(clip(typeof code === "string" ? `${code}: ${cause.message}` : cause.message));
    cause = cause.cause;
    if (causes.length === 5) break;
  }
  return causes;
}

/** The `err` serializer of createLogger; `withStack` at debug and trace levels. */
export function serializeError(value: unknown, withStack = false): unknown {
  if (!(value instanceof Error)) return value;
  const logged = apiException(value) ?? ownFields(value);
  const causes = causesOf(value);
  if (causes.length > 0) logged.causes = causes;
  if (withStack && value.stack !== undefined) logged.stack = value.stack;
  return logged;
}

function ownFields(error: Error): LoggedError {
  const { code, reason } = error as Error & { code?: unknown; reason?: unknown };
  return {
    type: error.name,
    ...(typeof code === "number" || typeof code === "string" ? { code } : {}),
    ...(typeof reason === "string" && reason !== "" ? { reason } : {}),
    message: clip(error.message),
  };
}
