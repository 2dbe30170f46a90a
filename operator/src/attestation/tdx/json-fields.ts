import { EvidenceError } from "../types.ts";

/** Typed accessors over untrusted JSON; every mismatch is an `EvidenceMalformed` naming the document and field. */
export type JsonObject = Record<string, unknown>;

function fail(what: string, key: string, expected: string): never {
  throw new EvidenceError("EvidenceMalformed", `${what}: field "${key}" is not ${expected}`);
}

export function asObject(value: unknown, what: string): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(what, "(root)", "an object");
  return value as JsonObject;
}

export function parseJsonObject(text: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EvidenceError("EvidenceMalformed", `${what}: not JSON`, { cause: error });
  }
  return asObject(value, what);
}

export function str(object: JsonObject, key: string, what: string): string {
  const value = object[key];
  return typeof value === "string" ? value : fail(what, key, "a string");
}

export function optionalStr(object: JsonObject, key: string, what: string): string | undefined {
  return object[key] === undefined ? undefined : str(object, key, what);
}

export function int(object: JsonObject, key: string, what: string): number {
  const value = object[key];
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0
    ? value
    : fail(what, key, "a non-negative integer");
}

export function hexField(object: JsonObject, key: string, what: string, bytes: number): string {
  const value = str(object, key, what);
  return /^[0-9a-fA-F]*$/.test(value) && value.length === bytes * 2
    ? value.toLowerCase()
    : fail(what, key, `${bytes} bytes of hex`);
}

export function date(object: JsonObject, key: string, what: string): Date {
  const parsed = new Date(str(object, key, what));
  return Number.isNaN(parsed.getTime()) ? fail(what, key, "a date") : parsed;
}

export function child(object: JsonObject, key: string, what: string): JsonObject {
  return asObject(object[key], `${what} ${key}`);
}

export function objects(object: JsonObject, key: string, what: string): JsonObject[] {
  const value = object[key];
  if (!Array.isArray(value)) fail(what, key, "an array");
  return value.map((item) => asObject(item, `${what} ${key}[]`));
}

export function strings(object: JsonObject, key: string, what: string): string[] {
  const value = object[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) fail(what, key, "strings");
  return value;
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], what: string, key: string): T {
  return (allowed as readonly string[]).includes(value) ? (value as T) : fail(what, key, allowed.join("|"));
}
