import { destination, pino, type Logger } from "pino";

/** The one pino instance: JSON to stderr, level from LOG_LEVEL, key material redacted. */
export function createLogger(name: string, level = process.env["LOG_LEVEL"] ?? "info"): Logger {
  return pino(
    {
      name,
      level,
      redact: {
        paths: ["*.privateKey", "*.d", "*.token", "*.jwe", "*.secret", "*.key", "privateKey", "token"],
        censor: "[redacted]",
      },
    },
    destination(2),
  );
}
