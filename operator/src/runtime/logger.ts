import { destination, pino, stdTimeFunctions, type DestinationStream, type Logger } from "pino";
import { serializeError } from "./log-error.ts";

/** Field paths whose values are never written, at any depth pino can address. */
export const REDACTED_PATHS = [
  "*.privateKey",
  "*.d",
  "*.token",
  "*.jwe",
  "*.secret",
  "*.key",
  "*.authorization",
  "*.password",
  "privateKey",
  "token",
  "jwe",
  "authorization",
  "password",
];

/**
 * The one pino setup of every component: JSON to stderr, `"level":"info"` (not 30) and ISO-8601 `time`, which
 * Loki and Cloud Logging pipelines read without a mapping; errors as log-error.ts's `{type, code, reason, message}`;
 * key material redacted. `stream` replaces stderr (tests).
 */
export function createLogger(
  name: string,
  level = process.env["LOG_LEVEL"] ?? "info",
  stream: DestinationStream = destination(2),
): Logger {
  const withStack = level === "debug" || level === "trace";
  return pino(
    {
      name,
      level,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: (error: unknown) => serializeError(error, withStack) },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    },
    stream,
  );
}

/** The first 8 hex digits of a challenge nonce: enough to match the controller's and the guest's lines. */
export function noncePrefix(nonce: string | undefined): string | undefined {
  return nonce === undefined || nonce === "" ? undefined : nonce.slice(0, 8);
}
