import type { ErrorObject } from "ajv";
import { formatFieldPath, pointerSegments } from "./field-path.ts";

/** One schema violation, worded like the API server's field errors. */
export interface FieldError {
  /** Kubernetes-style field path, e.g. `spec.gpus.count` or `spec.secrets[0].name`. */
  path: string;
  message: string;
}

const SHOWN_STRING_LENGTH = 80;

/** Ajv's errors as field errors; an int-or-string mismatch is one error, not one per branch. */
export function formatErrors(errors: readonly ErrorObject[], data: unknown): FieldError[] {
  const collapsed = errors
    .filter((error) => error.keyword === "anyOf")
    .map((error) => `${error.schemaPath}/`);
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const error of errors) {
    if (collapsed.some((prefix) => error.schemaPath.startsWith(prefix))) continue;
    const fieldError = toFieldError(error, data);
    const key = `${fieldError.path}\n${fieldError.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(fieldError);
  }
  return out;
}

function toFieldError(error: ErrorObject, data: unknown): FieldError {
  const segments = pointerSegments(error.instancePath, data);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "required") {
    return {
      path: formatFieldPath([...segments, String(params["missingProperty"])]),
      message: "Required value",
    };
  }
  return { path: formatFieldPath(segments), message: describe(error, params) };
}

function describe(error: ErrorObject, params: Record<string, unknown>): string {
  const value = show(error.data);
  const limit = String(params["limit"]);
  switch (error.keyword) {
    case "enum": {
      const allowed = Array.isArray(params["allowedValues"]) ? params["allowedValues"] : [];
      return `Unsupported value: ${value}: supported values: ${allowed.map(show).join(", ")}`;
    }
    case "type":
      return `Invalid value: ${value}: must be of type ${String(params["type"])}`;
    case "maximum":
    case "minimum":
    case "exclusiveMaximum":
    case "exclusiveMinimum":
      return `Invalid value: ${value}: must be ${comparison(String(params["comparison"]))} ${limit}`;
    case "multipleOf":
      return `Invalid value: ${value}: must be a multiple of ${String(params["multipleOf"])}`;
    case "maxLength":
      return `Too long: may not be longer than ${limit} characters`;
    case "minLength":
      return `Invalid value: ${value}: must be at least ${limit} characters long`;
    case "maxItems":
      return `Too many: ${countOf(error.data)}: must have at most ${limit} items`;
    case "minItems":
      return `Invalid value: must have at least ${limit} items`;
    case "maxProperties":
      return `Too many: ${countOf(error.data)}: must have at most ${limit} properties`;
    case "minProperties":
      return `Invalid value: must have at least ${limit} properties`;
    case "pattern":
      return `Invalid value: ${value}: must match the regular expression ${JSON.stringify(params["pattern"])}`;
    case "format":
      return `Invalid value: ${value}: must be a valid ${String(params["format"])}`;
    case "uniqueItems":
      return `Duplicate value: items ${String(params["j"])} and ${String(params["i"])} are equal`;
    case "anyOf":
      return isIntOrString(error.parentSchema)
        ? `Invalid value: ${value}: must be an integer or a string`
        : `Invalid value: ${value}: must match at least one of the allowed schemas`;
    default:
      return `Invalid value: ${value}: ${error.message ?? `fails ${error.keyword}`}`;
  }
}

function comparison(operator: string): string {
  const words: Record<string, string> = {
    "<=": "less than or equal to",
    ">=": "greater than or equal to",
    "<": "less than",
    ">": "greater than",
  };
  return words[operator] ?? operator;
}

function isIntOrString(schema: unknown): boolean {
  return (
    schema !== null &&
    typeof schema === "object" &&
    (schema as Record<string, unknown>)["x-kubernetes-int-or-string"] === true
  );
}

function countOf(value: unknown): number {
  if (Array.isArray(value)) return value.length;
  return value !== null && typeof value === "object" ? Object.keys(value).length : 0;
}

/** A value as it appears in a message, kept short (evidence blobs can be megabytes). */
function show(value: unknown): string {
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "<array>";
  if (value !== null && typeof value === "object") return "<object>";
  if (typeof value === "string" && value.length > SHOWN_STRING_LENGTH) {
    return `${JSON.stringify(value.slice(0, SHOWN_STRING_LENGTH))}...`;
  }
  return JSON.stringify(value);
}
