import { expect } from "chai";
import {
  backoffDelayMs,
  decideGate,
  decideRetry,
  DEFAULT_RETRY,
  parseRetryAfter,
  rateLimitedUntil,
  retryableStatus,
  type AttemptEnd,
  type RetryDecision,
} from "./retry-policy.ts";

const settings = {
  ...DEFAULT_RETRY,
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  maxRetryAfterMs: 5000,
};

describe("retry policy", () => {
  it("retries 429 and 5xx only", () => {
    const cases: [number, boolean][] = [
      [200, false],
      [301, false],
      [400, false],
      [401, false],
      [403, false],
      [404, false],
      [408, false],
      [429, true],
      [500, true],
      [502, true],
      [503, true],
      [599, true],
      [600, false],
    ];
    for (const [status, want] of cases) expect(retryableStatus(status), String(status)).to.equal(want);
  });

  it("reads Retry-After as seconds or an HTTP date, ignoring anything else", () => {
    const now = Date.parse("2025-07-01T12:00:00Z");
    const cases: [string | null, number | undefined][] = [
      [null, undefined],
      ["", undefined],
      ["0", 0],
      ["2", 2000],
      [" 120 ", 120_000],
      ["Tue, 01 Jul 2025 12:00:30 GMT", 30_000],
      ["Tue, 01 Jul 2025 11:00:00 GMT", 0],
      ["-5", undefined],
      ["1.5", undefined],
      ["soon", undefined],
      ["99999999999", undefined],
    ];
    for (const [header, want] of cases) expect(parseRetryAfter(header, now), String(header)).to.equal(want);
  });

  it("backs off exponentially with half the delay jittered, up to the cap", () => {
    const cases: [number, number, number][] = [
      // attempt, random, delay
      [1, 0, 50],
      [1, 0.999, 100],
      [2, 0, 100],
      [2, 0.5, 150],
      [3, 1, 400],
      [5, 1, 1000],
      [30, 0, 500],
      [1, -3, 50],
      [1, 7, 100],
    ];
    for (const [attempt, random, want] of cases)
      expect(
        backoffDelayMs(attempt, settings, () => random),
        `attempt ${attempt}, random ${random}`,
      ).to.equal(want);
  });

  it("decides retries: never for 4xx, TLS or too large, never past the attempts or the deadline", () => {
    const cases: { end: AttemptEnd; attempt: number; msLeft: number; want: RetryDecision }[] = [
      {
        end: { kind: "status", status: 500 },
        attempt: 1,
        msLeft: 10_000,
        want: { retry: true, delayMs: 75 },
      },
      {
        end: { kind: "status", status: 503 },
        attempt: 2,
        msLeft: 10_000,
        want: { retry: true, delayMs: 150 },
      },
      {
        end: { kind: "status", status: 500 },
        attempt: 3,
        msLeft: 10_000,
        want: { retry: false, why: "after 3 attempts" },
      },
      { end: { kind: "status", status: 400 }, attempt: 1, msLeft: 10_000, want: { retry: false } },
      { end: { kind: "status", status: 403 }, attempt: 1, msLeft: 10_000, want: { retry: false } },
      // A 429 waits at least the rate-limit floor, a Retry-After at least what it asks.
      {
        end: { kind: "status", status: 429 },
        attempt: 1,
        msLeft: 10_000,
        want: { retry: true, delayMs: 1000 },
      },
      {
        end: { kind: "status", status: 429, retryAfterMs: 2000 },
        attempt: 1,
        msLeft: 10_000,
        want: { retry: true, delayMs: 2000 },
      },
      {
        end: { kind: "status", status: 503, retryAfterMs: 10 },
        attempt: 1,
        msLeft: 10_000,
        want: { retry: true, delayMs: 75 },
      },
      {
        end: { kind: "status", status: 429, retryAfterMs: 60_000 },
        attempt: 1,
        msLeft: 100_000,
        want: { retry: false, why: "Retry-After asks for 60 s, more than the 5 s waited at most" },
      },
      {
        end: { kind: "status", status: 429, retryAfterMs: 3000 },
        attempt: 1,
        msLeft: 2000,
        want: { retry: false, why: "no time for another attempt before the deadline (2000 ms left)" },
      },
      {
        end: { kind: "network", retryable: true },
        attempt: 1,
        msLeft: 10_000,
        want: { retry: true, delayMs: 75 },
      },
      { end: { kind: "network", retryable: false }, attempt: 1, msLeft: 10_000, want: { retry: false } },
      { end: { kind: "timeout" }, attempt: 2, msLeft: 10_000, want: { retry: true, delayMs: 150 } },
      {
        end: { kind: "timeout" },
        attempt: 1,
        msLeft: 50,
        want: { retry: false, why: "no time for another attempt before the deadline (50 ms left)" },
      },
      { end: { kind: "too-large" }, attempt: 1, msLeft: 10_000, want: { retry: false } },
      { end: { kind: "redirect" }, attempt: 1, msLeft: 10_000, want: { retry: false } },
    ];
    for (const { end, attempt, msLeft, want } of cases)
      expect(
        decideRetry(end, { attempt, msLeft, settings, random: () => 0.5 }),
        `${JSON.stringify(end)} after attempt ${attempt}`,
      ).to.deep.equal(want);
  });

  it("says nothing about attempts when only one was allowed", () => {
    const once = { ...settings, maxAttempts: 1 };
    expect(
      decideRetry(
        { kind: "status", status: 500 },
        { attempt: 1, msLeft: 10_000, settings: once, random: () => 0.5 },
      ),
    ).to.deep.equal({
      retry: false,
    });
  });

  it("keeps a rate-limited service closed until its Retry-After, else for the floor", () => {
    expect(rateLimitedUntil(1000, 2500, settings)).to.equal(3500);
    expect(rateLimitedUntil(1000, undefined, settings)).to.equal(1000 + settings.rateLimitedDelayMs);
  });

  it("gates callers of a rate-limited service: go, wait with jitter, or refuse when too far off", () => {
    const at = (notBefore: number | undefined, msLeft: number) =>
      decideGate(notBefore, { nowMs: 10_000, msLeft, settings, random: () => 0.5 });
    expect(at(undefined, 1000)).to.deep.equal({ wait: false });
    expect(at(9_000, 1000)).to.deep.equal({ wait: false });
    expect(at(10_000, 1000)).to.deep.equal({ wait: false });
    expect(at(11_000, 10_000)).to.deep.equal({ wait: true, delayMs: 1050 });
    expect(at(11_000, 1000)).to.deep.equal({
      refuse: "rate limited: the service asked not to be asked again for 1 s",
    });
    expect(at(70_000, 1_000_000)).to.deep.equal({
      refuse: "rate limited: the service asked not to be asked again for 60 s",
    });
  });
});
