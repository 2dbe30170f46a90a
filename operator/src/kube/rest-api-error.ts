// Errors of the light client (rest-client.ts) of the agent and guest; api-error.ts reads client-node's.
/** A Kubernetes API error: the HTTP code plus `reason` and `message` of the returned Status. */
export class KubeApiError extends Error {
  readonly code: number;
  /** The Status reason (NotFound, AlreadyExists, Conflict, Forbidden, ...). */
  readonly reason: string;

  constructor(code: number, reason: string, message: string) {
    super(message);
    this.name = "KubeApiError";
    this.code = code;
    this.reason = reason;
  }
}

// The reasons client-go assumes when an error response carries no Status (e.g. from a proxy).
const REASON_BY_CODE: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

function statusOf(body: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null && (parsed as { kind?: unknown }).kind === "Status")
      return parsed as Record<string, unknown>;
  } catch {
    // not JSON: described below from the HTTP status
  }
  return undefined;
}

/** The error for a non-2xx response, from its Status body when it has one. */
export function apiErrorFromResponse(
  request: string,
  code: number,
  statusText: string,
  body: string,
): KubeApiError {
  const status = statusOf(body);
  const reason =
    typeof status?.["reason"] === "string" && status["reason"] !== ""
      ? status["reason"]
      : (REASON_BY_CODE[code] ?? "Unknown");
  const message =
    typeof status?.["message"] === "string" && status["message"] !== ""
      ? status["message"]
      : `${request}: HTTP ${code} ${statusText}${body.trim() === "" ? "" : `: ${body.trim().slice(0, 200)}`}`;
  return new KubeApiError(code, reason, message);
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.code === 404;
}

export function isConflict(error: unknown): boolean {
  return error instanceof KubeApiError && error.code === 409;
}
