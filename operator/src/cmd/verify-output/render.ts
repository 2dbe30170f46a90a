import { stringify } from "yaml";
import { UsageError } from "../../cli/command.ts";
import { renderText } from "./render-text.ts";
import type { VerificationResult } from "./verification-result.ts";

export type OutputFormat = "json" | "yaml" | "text";

export const OUTPUT_FORMATS: readonly OutputFormat[] = ["json", "yaml", "text"];

/** `-o`: json by default (what scripts and the JSON Schema expect). */
export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined) return "json";
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new UsageError(`trustgate verify: -o ${JSON.stringify(value)} must be json, yaml or text`);
}

export function renderResult(result: VerificationResult, format: OutputFormat): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(result, null, 2)}\n`;
    case "yaml":
      return stringify(result, { lineWidth: 0 });
    case "text":
      return renderText(result);
  }
}
