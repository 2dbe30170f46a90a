/**
 * The one outbound HTTPS client of the attestation services (Intel PCS/PCCS, AMD KDS, NVIDIA RIM service, OCSP
 * responder, NRAS). Every answer is capped in size (service-exchange.ts), every attempt has a timeout and every call
 * an overall deadline (plus the caller's signal); network failures, 5xx and 429 are retried with jittered
 * exponential backoff, honouring `Retry-After` (retry-policy.ts), and a rate-limited service is not asked again by
 * any caller of this client before it said so. Failures are AttestationServiceError (CollateralUnavailable) naming
 * the service, the URL and the precise cause; header values that look like credentials (e.g. PCS's
 * `Ocp-Apim-Subscription-Key`) never appear in a message. `onRequest` sees every attempt (for metrics).
 */
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { describeNetworkFailure } from "../../http/network-failure.ts";
import { fetchTransport, type HttpTransport } from "../../http/transport.ts";
import { VERSION } from "../../version.ts";
import {
  DEFAULT_RETRY,
  decideGate,
  decideRetry,
  rateLimitedUntil,
  type RetrySettings,
} from "./retry-policy.ts";
import {
  AttestationServiceError,
  redactedUrl,
  secretScrubber,
  serviceInfo,
  type AttestationService,
  type ServiceFailure,
} from "./service-errors.ts";
import {
  exchangeOnce,
  outcomeOf,
  type Attempt,
  type RequestOutcome,
  type ServiceResponse,
} from "./service-exchange.ts";

export { AttestationServiceError, type AttestationService, type ServiceFailure } from "./service-errors.ts";
export type { RequestOutcome, ServiceResponse } from "./service-exchange.ts";

export interface ServiceRequestEvent {
  service: AttestationService;
  outcome: RequestOutcome;
  /** The HTTP status, when the server answered. */
  status?: number;
  /** From sending the request to the end of the answer (or the failure). */
  seconds: number;
  /** 1 for the first attempt of a call. */
  attempt: number;
  /** No further attempt follows for this call. */
  final: boolean;
}

export type RequestObserver = (event: ServiceRequestEvent) => void;

export interface ServiceCallOptions {
  service: AttestationService;
  /** The largest answer accepted; default per service (service-errors.ts). */
  maxBytes?: number;
  headers?: Record<string, string>;
  /** The caller's deadline (e.g. one per appraisal): no attempt or wait outlives it. */
  signal?: AbortSignal;
  /** Per attempt; default the client's. */
  timeoutMs?: number;
  /** For the whole call, retries included; default the client's. */
  deadlineMs?: number;
  /** Called besides the client's observer. */
  onRequest?: RequestObserver;
}

export interface AttestationServiceClient {
  /** The answer of a GET; undefined for 404 (the service does not have it). */
  get(url: string | URL, options: ServiceCallOptions): Promise<ServiceResponse | undefined>;
  /** The answer of a POST; any status but 2xx (404 included) is an error. */
  post(
    url: string | URL,
    body: Uint8Array | string,
    options: ServiceCallOptions & { contentType: string },
  ): Promise<ServiceResponse>;
}

export interface AttestationServiceClientOptions {
  /** Default: the global fetch (env proxy, NODE_EXTRA_CA_CERTS); `httpsTransport({ caPem })` for an explicit CA. */
  transport?: HttpTransport;
  onRequest?: RequestObserver;
  retry?: Partial<RetrySettings>;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Per call, retries included (default 30 s). */
  deadlineMs?: number;
  random?: () => number;
  /** Waits `ms` unless `signal` aborts first (then rejects). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;

function positive(value: number | undefined, what: string): number | undefined {
  if (value !== undefined && !(Number.isFinite(value) && value > 0))
    throw new RangeError(`attestation service client: ${what} must be a positive number, got ${value}`);
  return value;
}

function requestHeaders(
  given: Readonly<Record<string, string>>,
  contentType?: string,
): Record<string, string> {
  const headers: Record<string, string> = { "user-agent": `trustgate/${VERSION}` };
  for (const [name, value] of Object.entries(given)) {
    // The name only: a bad value may be a credential.
    if (!HEADER_NAME.test(name) || /[\r\n\0]/.test(value))
      throw new RangeError(
        `attestation service client: header ${JSON.stringify(name)} is not a valid HTTP header`,
      );
    headers[name.toLowerCase()] = value;
  }
  if (contentType !== undefined) headers["content-type"] = contentType;
  return headers;
}

const plural = (n: number): string => `${n} attempt${n === 1 ? "" : "s"}`;

/** Why a call stopped early: its own deadline, or the caller's signal (a deadline too, or another reason). */
function stopReason(callerSignal: AbortSignal | undefined, callMs: number): string {
  if (callerSignal?.aborted !== true) return `the deadline (${callMs} ms) passed`;
  const reason: unknown = callerSignal.reason;
  if (reason instanceof Error && reason.name === "TimeoutError") return "the caller's deadline passed";
  return `the caller gave up (${reason instanceof Error ? reason.message : String(reason)})`;
}

export function createAttestationServiceClient(
  options: AttestationServiceClientOptions = {},
): AttestationServiceClient {
  const transport = options.transport ?? fetchTransport();
  const settings: RetrySettings = { ...DEFAULT_RETRY, ...options.retry };
  if (!Number.isInteger(settings.maxAttempts) || settings.maxAttempts < 1)
    throw new RangeError(
      `attestation service client: retry.maxAttempts must be a whole number of at least 1, got ${settings.maxAttempts}`,
    );
  const timeoutMs = positive(options.timeoutMs, "timeoutMs") ?? 10_000;
  const deadlineMs = positive(options.deadlineMs, "deadlineMs") ?? 30_000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number, signal: AbortSignal) => delay(ms, undefined, { signal }));
  const now = options.now ?? Date.now;
  // Per service and origin: when a rate-limited service may be asked again (shared by concurrent callers).
  const notBefore = new Map<string, number>();

  async function call(
    method: "GET" | "POST",
    input: string | URL,
    payload: { body: Uint8Array; contentType: string } | undefined,
    call: ServiceCallOptions,
  ): Promise<ServiceResponse | undefined> {
    const info = serviceInfo(call.service);
    const target = URL.canParse(String(input)) ? new URL(input) : undefined;
    const shownUrl = target === undefined ? JSON.stringify(String(input)) : redactedUrl(target);
    const scrub = secretScrubber(call.headers ?? {});
    const fail = (failure: ServiceFailure, text: string, attempts: number, status?: number): never => {
      throw new AttestationServiceError({
        service: call.service,
        url: shownUrl,
        failure,
        attempts,
        message: `${info.name} ${shownUrl}: ${scrub(text)}`,
        ...(status === undefined ? {} : { status }),
      });
    };
    if (target === undefined) return fail("not-https", "not a URL", 0);
    if (target.protocol !== "https:")
      return fail("not-https", "not https (attestation services are asked over https only)", 0);
    const maxBytes = call.maxBytes ?? info.maxBytes;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
      throw new RangeError(
        `attestation service client: maxBytes must be a positive integer, got ${maxBytes}`,
      );
    const attemptMs = positive(call.timeoutMs, "timeoutMs") ?? timeoutMs;
    const callMs = positive(call.deadlineMs, "deadlineMs") ?? deadlineMs;
    const headers = requestHeaders(call.headers ?? {}, payload?.contentType);

    const deadlineAt = now() + callMs;
    const deadline = AbortSignal.timeout(callMs);
    const overall = call.signal === undefined ? deadline : AbortSignal.any([call.signal, deadline]);
    const deadlineReached = (): boolean => overall.aborted;
    const gateKey = `${call.service} ${target.origin}`;
    let last: Attempt | undefined;
    const deadlinePassed = (attempts: number): never => {
      const before = last?.kind === "failure" ? `; before: ${last.text}` : "";
      return fail(
        "deadline",
        `${stopReason(call.signal, callMs)} after ${plural(attempts)}${before}`,
        attempts,
      );
    };
    const pause = async (ms: number, attempts: number): Promise<void> => {
      try {
        await sleep(ms, overall);
      } catch {
        deadlinePassed(attempts);
      }
      if (deadlineReached()) deadlinePassed(attempts);
    };
    const observe = (event: ServiceRequestEvent): void => {
      for (const observer of [options.onRequest, call.onRequest])
        try {
          observer?.(event);
        } catch {
          // A failing metrics hook must not fail the request.
        }
    };

    for (let attempt = 1; ; attempt++) {
      if (deadlineReached()) return deadlinePassed(attempt - 1);
      const msLeft = deadlineAt - now();
      const closedUntil = notBefore.get(gateKey);
      if (closedUntil !== undefined && closedUntil <= now()) notBefore.delete(gateKey);
      const gate = decideGate(closedUntil, { nowMs: now(), msLeft, settings, random });
      if ("refuse" in gate) return fail("rate-limited", gate.refuse, attempt - 1);
      if (gate.wait) await pause(gate.delayMs, attempt - 1);

      const attemptTimer = AbortSignal.timeout(attemptMs);
      const signal = AbortSignal.any([overall, attemptTimer]);
      const started = performance.now();
      const elapsed = (): number => (performance.now() - started) / 1000;
      let result: Attempt;
      try {
        result = await exchangeOnce(transport, {
          method,
          url: target,
          headers,
          maxBytes,
          signal,
          scrub,
          now,
          ...(payload === undefined ? {} : { body: payload.body }),
        });
      } catch (error) {
        if (deadlineReached()) {
          observe({ service: call.service, outcome: "timeout", seconds: elapsed(), attempt, final: true });
          return deadlinePassed(attempt);
        }
        const network = attemptTimer.aborted ? undefined : describeNetworkFailure(error);
        result =
          network === undefined
            ? {
                kind: "failure",
                end: { kind: "timeout" },
                failure: "timeout",
                text: `no answer within ${attemptMs} ms`,
              }
            : {
                kind: "failure",
                end: { kind: "network", retryable: network.retryable },
                failure: network.kind,
                text: network.text,
              };
      }
      const { status } = result;
      const event = { service: call.service, outcome: outcomeOf(result), seconds: elapsed(), attempt };
      const withStatus = status === undefined ? event : { ...event, status };
      if (result.kind === "answer") {
        observe({ ...withStatus, final: true });
        return result.response;
      }
      if (result.end.kind === "status" && result.end.status === 429) {
        const until = rateLimitedUntil(now(), result.end.retryAfterMs, settings);
        notBefore.set(gateKey, Math.max(notBefore.get(gateKey) ?? 0, until));
      }
      const decision = decideRetry(result.end, { attempt, msLeft: deadlineAt - now(), settings, random });
      observe({ ...withStatus, final: !decision.retry });
      last = result;
      if (!decision.retry) {
        const why = decision.why === undefined ? "" : ` (${decision.why})`;
        return fail(result.failure, `${result.text}${why}`, attempt, result.status);
      }
      await pause(decision.delayMs, attempt);
    }
  }

  return {
    get: (url, callOptions) => call("GET", url, undefined, callOptions),
    async post(url, body, callOptions) {
      const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
      const response = await call(
        "POST",
        url,
        { body: bytes, contentType: callOptions.contentType },
        callOptions,
      );
      // Only a GET turns 404 into "not found"; a POST's 404 is an error like any other status.
      if (response === undefined)
        throw new Error("attestation service client: a POST answered without a response");
      return response;
    },
  };
}
