/**
 * The CEL rules of a CRD schema (`x-kubernetes-validations`) evaluated offline, so that `trustgate verify --policy`
 * and the tests refuse what the API server refuses. Uses @marcbachmann/cel-js with the Kubernetes CEL library
 * functions our CRDs call (URLs, quantities); durations and `matches` are standard CEL. Transition rules (those
 * reading `oldSelf`) need the stored object and are left to the API server.
 */
import { Environment } from "@marcbachmann/cel-js";
import { formatFieldPath } from "./field-path.ts";
import type { JSONSchemaProps, ValidationRule } from "./json-schema.ts";
import type { FieldError } from "./schema-errors.ts";
import { parseQuantity } from "./quantity.ts";

class CelUrl {
  readonly url: URL;
  constructor(url: URL) {
    this.url = url;
  }
}

class CelQuantity {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

function parsedUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

function compare(a: number, b: number): bigint {
  return a < b ? -1n : a > b ? 1n : 0n;
}

function kubernetesEnvironment(): Environment {
  const env = new Environment({ unlistedVariablesAreDyn: true })
    .registerType("URL", CelUrl)
    .registerType("Quantity", CelQuantity)
    .registerFunction("isURL(string): bool", (s: string) => parsedUrl(s) !== undefined)
    .registerFunction("url(string): URL", (s: string) => {
      const url = parsedUrl(s);
      if (url === undefined) throw new Error(`${JSON.stringify(s)} is not a URL`);
      return new CelUrl(url);
    })
    .registerFunction("isQuantity(string): bool", (s: string) => parseQuantity(s) !== undefined)
    .registerFunction("quantity(string): Quantity", (s: string) => {
      const value = parseQuantity(s);
      if (value === undefined) throw new Error(`${JSON.stringify(s)} is not a quantity`);
      return new CelQuantity(value);
    });
  const urlParts: Record<string, (u: URL) => string> = {
    getScheme: (u) => u.protocol.replace(/:$/, ""),
    getHost: (u) => u.host,
    getHostname: (u) => u.hostname,
    getPort: (u) => u.port,
    getEscapedPath: (u) => u.pathname,
    getQuery: (u) => u.search.replace(/^\?/, ""),
  };
  for (const [name, part] of Object.entries(urlParts)) {
    env.registerFunction({
      name,
      receiverType: "URL",
      returnType: "string",
      handler: (u: CelUrl) => part(u.url),
      params: [],
    });
  }
  const quantityComparisons: Record<string, [string, (a: number, b: number) => bigint | boolean]> = {
    compareTo: ["int", compare],
    isGreaterThan: ["bool", (a, b) => a > b],
    isLessThan: ["bool", (a, b) => a < b],
  };
  for (const [name, [returnType, fn]] of Object.entries(quantityComparisons)) {
    env.registerFunction({
      name,
      receiverType: "Quantity",
      returnType,
      handler: (a: CelQuantity, b: CelQuantity) => fn(a.value, b.value),
      params: [{ name: "other", type: "Quantity" }],
    });
  }
  return env;
}

type Program = (context: Record<string, unknown>) => unknown;

let environment: Environment | undefined;
const programs = new Map<string, Program>();

function programFor(rule: string): Program {
  let program = programs.get(rule);
  if (program === undefined) {
    environment ??= kubernetesEnvironment();
    program = environment.parse(rule);
    programs.set(rule, program);
  }
  return program;
}

/** JSON as CEL sees it: integers of integer (and int-or-string) fields are CEL ints (bigint). */
function toCel(value: unknown, schema: JSONSchemaProps | undefined): unknown {
  if (typeof value === "number") {
    const integer = schema?.type === "integer" || schema?.["x-kubernetes-int-or-string"] === true;
    return integer || (schema?.type === undefined && Number.isInteger(value)) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map((item) => toCel(item, schema?.items));
  if (typeof value === "object" && value !== null) {
    const additional =
      typeof schema?.additionalProperties === "object" ? schema.additionalProperties : undefined;
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [
        key,
        toCel(child, schema?.properties?.[key] ?? additional),
      ]),
    );
  }
  return value;
}

function readsOldSelf(rule: ValidationRule): boolean {
  return /\boldSelf\b/.test(rule.rule);
}

function ruleError(rule: ValidationRule, path: (string | number)[], detail?: string): FieldError {
  const base = path.length === 0 ? "" : formatFieldPath(path);
  const fieldPath = `${base}${rule.fieldPath ?? ""}`.replace(/^\./, "");
  const message = rule.message ?? `failed rule: ${rule.rule}`;
  return {
    path: fieldPath === "" ? "<root>" : fieldPath,
    message: detail === undefined ? message : `${message} (${detail})`,
  };
}

function checkRules(
  schema: JSONSchemaProps,
  value: unknown,
  path: (string | number)[],
  errors: FieldError[],
): void {
  for (const rule of schema["x-kubernetes-validations"] ?? []) {
    if (readsOldSelf(rule)) continue;
    try {
      if (programFor(rule.rule)({ self: toCel(value, schema) }) !== true) errors.push(ruleError(rule, path));
    } catch (error) {
      errors.push(
        ruleError(rule, path, `rule could not be evaluated: ${(error as Error).message.split("\n")[0]}`),
      );
    }
  }
}

/**
 * Every CEL rule of `schema` that `value` breaks, as field errors; a value the structural schema refuses should be
 * reported by the schema check first (a rule may then fail for the same cause).
 */
export function celRuleErrors(
  schema: JSONSchemaProps,
  value: unknown,
  path: (string | number)[] = [],
): FieldError[] {
  const errors: FieldError[] = [];
  walk(schema, value, path, errors);
  return errors;
}

function walk(
  schema: JSONSchemaProps,
  value: unknown,
  path: (string | number)[],
  errors: FieldError[],
): void {
  if (value === undefined || value === null) return;
  checkRules(schema, value, path, errors);
  if (Array.isArray(value)) {
    if (schema.items !== undefined) {
      for (const [index, item] of value.entries()) walk(schema.items, item, [...path, index], errors);
    }
    return;
  }
  if (typeof value !== "object") return;
  const additional =
    typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
  for (const [key, child] of Object.entries(value)) {
    const childSchema = schema.properties?.[key] ?? additional;
    if (childSchema !== undefined) walk(childSchema, child, [...path, key], errors);
  }
}
