/**
 * One attempt at an attestation service: send, follow at most a few https redirects (GET only; headers other than
 * Accept and User-Agent are not carried to another origin), and read the answer within its size cap: a
 * Content-Length over the cap is refused before reading, a body that grows past it stops the transfer. Transport
 * failures are thrown as they are; the caller (the client) names them.
 */
import { BodyTooLargeError, readBody } from "../../http/read-body.ts";
import type { HttpTransport } from "../../http/transport.ts";
import { parseRetryAfter, type AttemptEnd } from "./retry-policy.ts";
import { bodySnippet, redactedUrl, type ServiceFailure } from "./service-errors.ts";

export interface ServiceResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** What one attempt came to: a label for `trustgate_collateral_requests_total{service,outcome}`. */
export type RequestOutcome =
  | "ok"
  | "not-found"
  | "rate-limited"
  | "http-error"
  | "too-large"
  | "timeout"
  | "network-error";

export type Attempt =
  | { kind: "answer"; response: ServiceResponse | undefined; outcome: "ok" | "not-found"; status: number }
  | { kind: "failure"; end: AttemptEnd; failure: ServiceFailure; text: string; status?: number };

export interface Exchange {
  method: "GET" | "POST";
  url: URL;
  headers: Record<string, string>;
  body?: Uint8Array;
  maxBytes: number;
  signal: AbortSignal;
  /** Removes credentials from a text taken from the answer. */
  scrub: (text: string) => string;
  now: () => number;
}

const MAX_REDIRECTS = 3;
const SNIPPET_BYTES = 4096;
const SAFE_ACROSS_ORIGINS = new Set(["accept", "user-agent"]);

export function outcomeOf(attempt: Attempt): RequestOutcome {
  if (attempt.kind === "answer") return attempt.outcome;
  switch (attempt.end.kind) {
    case "status":
      return attempt.end.status === 429 ? "rate-limited" : "http-error";
    case "timeout":
      return "timeout";
    case "too-large":
      return "too-large";
    case "redirect":
      return "http-error";
    case "network":
      return "network-error";
  }
}

function redirectRefusal(exchange: Exchange, hops: number, next: URL | undefined): string | undefined {
  if (exchange.method !== "GET") return "redirects are followed for GET only";
  if (hops >= MAX_REDIRECTS) return `more than ${MAX_REDIRECTS} redirects`;
  if (next === undefined) return "a bad Location";
  if (next.protocol !== "https:") return "not to an https URL";
  return undefined;
}

async function failedStatus(
  exchange: Exchange,
  status: number,
  headers: Headers,
  body: AsyncIterable<Uint8Array>,
): Promise<Attempt> {
  const snippet = await readBody(body, {
    maxBytes: SNIPPET_BYTES,
    truncate: true,
    signal: exchange.signal,
  }).then(bodySnippet, () => "");
  const retryAfterMs = parseRetryAfter(headers.get("retry-after"), exchange.now());
  const end: AttemptEnd = { kind: "status", status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  const text = `answered HTTP ${status}${snippet === "" ? "" : ` ${exchange.scrub(snippet)}`}`;
  return { kind: "failure", end, failure: "http-status", text, status };
}

export async function exchangeOnce(transport: HttpTransport, exchange: Exchange): Promise<Attempt> {
  const { method, maxBytes, signal } = exchange;
  let url = exchange.url;
  let headers = exchange.headers;
  for (let hops = 0; ; hops++) {
    const body = exchange.body;
    const response = await transport({
      method,
      url,
      headers,
      signal,
      ...(body === undefined ? {} : { body }),
    });
    const { status } = response;
    const location = response.headers.get("location");
    if (status >= 300 && status < 400 && location !== null) {
      response.discard();
      const next = URL.canParse(location, url.href) ? new URL(location, url) : undefined;
      const refusal = redirectRefusal(exchange, hops, next);
      if (refusal !== undefined) {
        const to = next === undefined ? JSON.stringify(exchange.scrub(location)) : redactedUrl(next);
        const text = `answered HTTP ${status} to ${to} (not followed: ${refusal})`;
        return { kind: "failure", end: { kind: "redirect" }, failure: "redirect", text, status };
      }
      if (next !== undefined && next.origin !== url.origin)
        headers = Object.fromEntries(
          Object.entries(headers).filter(([name]) => SAFE_ACROSS_ORIGINS.has(name)),
        );
      url = next ?? url;
      continue;
    }
    if (status === 404 && method === "GET") {
      response.discard();
      return { kind: "answer", response: undefined, outcome: "not-found", status };
    }
    if (status < 200 || status > 299) return failedStatus(exchange, status, response.headers, response.body);
    const declared = Number(response.headers.get("content-length") ?? "");
    try {
      if (declared > maxBytes) throw new BodyTooLargeError(maxBytes);
      const bytes = await readBody(response.body, { maxBytes, signal });
      return {
        kind: "answer",
        response: { status, headers: response.headers, body: new Uint8Array(bytes) },
        outcome: "ok",
        status,
      };
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      response.discard();
      const announced = declared > maxBytes ? ` (Content-Length ${declared})` : "";
      const text = `the answer is larger than ${maxBytes} bytes${announced}`;
      return { kind: "failure", end: { kind: "too-large" }, failure: "too-large", text, status };
    }
  }
}
