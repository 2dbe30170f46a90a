import { expect } from "chai";
import { readFile } from "node:fs/promises";

/** One line of a trustgate process's log (createLogger's JSON), or `{ msg }` for a line that is not JSON. */
export interface LogLine {
  level?: unknown;
  time?: unknown;
  name?: unknown;
  msg?: string;
  err?: Record<string, unknown>;
}

/**
 * The log a test process wrote to `path`. `jsonOnly`: only the JSON lines; otherwise every non-empty line, a line
 * that is not JSON (a stack trace on stderr, say) kept as its `msg`.
 */
export async function readLogLines(path: string, options: { jsonOnly?: boolean } = {}): Promise<LogLine[]> {
  const text = await readFile(path, "utf8");
  return text
    .split("\n")
    .filter((line) => (options.jsonOnly === true ? line.startsWith("{") : line.trim() !== ""))
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        return { msg: line };
      }
    });
}

/** createLogger's format, in every component: a string level and an ISO-8601 UTC time with milliseconds. */
export function expectLoggerFormat(line: LogLine): void {
  expect(line.level, JSON.stringify(line)).to.be.oneOf(["trace", "debug", "info", "warn", "error", "fatal"]);
  expect(line.time, JSON.stringify(line)).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
}
