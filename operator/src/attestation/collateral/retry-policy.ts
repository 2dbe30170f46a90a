/**
 * When an attestation service request is tried again, and after how long: pure decisions, no clock or timer.
 * Retried: network failures that may pass, 5xx, 429; never another 4xx, never past the deadline. The delay is an
 * exponential backoff with jitter (half fixed, half random, so concurrent callers spread out but always wait), and
 * at least what a `Retry-After` asks, up to a cap: a service asking for longer is not asked again early.
 */

export interface RetrySettings {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** The backoff before the second attempt; doubled for each further one. */
  baseDelayMs: number;
  /** The longest backoff. */
  maxDelayMs: number;
  /** The longest `Retry-After` honoured by waiting; a longer one ends the request. */
  maxRetryAfterMs: number;
  /** The least wait after a 429 without `Retry-After`. */
  rateLimitedDelayMs: number;
}

export const DEFAULT_RETRY: RetrySettings = {
  maxAttempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
  rateLimitedDelayMs: 1_000,
};

/** What one attempt ended with, as far as retrying goes. */
export type AttemptEnd =
  | { kind: "status"; status: number; retryAfterMs?: number }
  | { kind: "network"; retryable: boolean }
  | { kind: "timeout" }
  | { kind: "too-large" }
  | { kind: "redirect" };

/** Not retried: `why` says why not when the failure itself was worth another attempt. */
export type RetryDecision = { retry: true; delayMs: number } | { retry: false; why?: string };

/** Whether an HTTP status is worth another attempt: 429 and 5xx. */
export function retryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/** `Retry-After` (RFC 9110 10.2.3: delay-seconds or an HTTP-date) in ms from `nowMs`; undefined if absent or bad. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The jittered exponential backoff after attempt `attempt` (1-based): in [d/2, d) for d = base·2^(attempt-1), capped. */
export function backoffDelayMs(attempt: number, settings: RetrySettings, random: () => number): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jitter = Math.min(Math.max(random(), 0), 1);
  return Math.round(ceiling / 2 + (jitter * ceiling) / 2);
}

function retryableEnd(end: AttemptEnd): boolean {
  switch (end.kind) {
    case "status":
      return retryableStatus(end.status);
    case "network":
      return end.retryable;
    case "timeout":
      return true;
    case "too-large":
    case "redirect":
      return false;
  }
}

/** Whether to try again after attempt `attempt` ended with `end`, with `msLeft` before the deadline. */
export function decideRetry(
  end: AttemptEnd,
  context: { attempt: number; msLeft: number; settings: RetrySettings; random: () => number },
): RetryDecision {
  const { attempt, msLeft, settings } = context;
  if (!retryableEnd(end)) return { retry: false };
  // With a single attempt allowed there was nothing to give up on.
  if (attempt >= settings.maxAttempts)
    return attempt > 1 ? { retry: false, why: `after ${attempt} attempts` } : { retry: false };
  let delayMs = backoffDelayMs(attempt, settings, context.random);
  if (end.kind === "status" && end.status === 429) delayMs = Math.max(delayMs, settings.rateLimitedDelayMs);
  if (end.kind === "status" && end.retryAfterMs !== undefined) {
    if (end.retryAfterMs > settings.maxRetryAfterMs)
      return {
        retry: false,
        why: `Retry-After asks for ${Math.ceil(end.retryAfterMs / 1000)} s, more than the ${Math.ceil(settings.maxRetryAfterMs / 1000)} s waited at most`,
      };
    delayMs = Math.max(delayMs, end.retryAfterMs);
  }
  if (delayMs >= msLeft)
    return {
      retry: false,
      why: `no time for another attempt before the deadline (${Math.max(0, msLeft)} ms left)`,
    };
  return { retry: true, delayMs };
}

/** Until when a rate-limited service is not asked again: `Retry-After` if given, else the least wait after a 429. */
export function rateLimitedUntil(
  nowMs: number,
  retryAfterMs: number | undefined,
  settings: RetrySettings,
): number {
  return nowMs + (retryAfterMs ?? settings.rateLimitedDelayMs);
}

/**
 * Before an attempt at a service that asked not to be asked before `notBeforeMs`: go ahead, wait (with a little
 * jitter, so that the waiting callers do not all return at once), or give up now.
 */
export function decideGate(
  notBeforeMs: number | undefined,
  context: { nowMs: number; msLeft: number; settings: RetrySettings; random: () => number },
): { wait: false } | { wait: true; delayMs: number } | { refuse: string } {
  if (notBeforeMs === undefined || notBeforeMs <= context.nowMs) return { wait: false };
  const remaining = notBeforeMs - context.nowMs;
  const delayMs =
    remaining + Math.round(Math.min(Math.max(context.random(), 0), 1) * context.settings.baseDelayMs);
  if (remaining > context.settings.maxRetryAfterMs || delayMs >= context.msLeft)
    return {
      refuse: `rate limited: the service asked not to be asked again for ${Math.ceil(remaining / 1000)} s`,
    };
  return { wait: true, delayMs };
}
