// Writes JSON schemas as TypeScript constants, with each sub-schema that recurs (the conditions of every
// CRD's status, the hex-digest items of every measurement list) written once as its own constant and
// referenced wherever it stands.

import { structuralKey } from "./schema-to-ts.ts";
import { camelCase, jsDoc, pascalCase } from "./ts-syntax.ts";

/** A schema to write as `export const name: type = …`. */
export interface SchemaConstant {
  name: string;
  /** Where it comes from, for its JSDoc and the names of the sub-schemas it shares. */
  origin: string;
  doc: string;
  schema: unknown;
}

/** Sub-schemas shorter than this (as JSON) are left inline: `{ type: "string" }` reads better than a name. */
const MIN_SHARED_LENGTH = 80;

const ITEM = "Item";

interface Occurrence {
  /** The property path below the schema's origin as PascalCase words (array items: `Item`). */
  trail: string[];
  origin: string;
}

/** Source (unformatted) of the constants, each typed as `type`, after the shared sub-schemas they use. */
export function renderSchemaConstants(constants: readonly SchemaConstant[], type: string): string {
  const occurrences = collectOccurrences(constants);
  const shared = chooseShared(constants, occurrences);
  const names = nameShared(shared, occurrences);

  const sharedSource = orderedShared(constants, shared).map(({ key, value }) => {
    const places = (occurrences.get(key) ?? []).map(describe).join(", ");
    return (
      jsDoc(`Shared by ${places}.`, "") +
      `const ${names.get(key) ?? ""}: ${type} = ${toSource(value, names, true)};\n`
    );
  });
  const exported = constants.map(
    ({ name, doc, schema }) =>
      jsDoc(doc, "") + `export const ${name}: ${type} = ${toSource(schema, names, true)};\n`,
  );
  return [...sharedSource, ...exported].join("\n");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Every object below each constant's root, by structural key. */
function collectOccurrences(constants: readonly SchemaConstant[]): Map<string, Occurrence[]> {
  const found = new Map<string, Occurrence[]>();
  const visit = (value: unknown, trail: string[], origin: string): void => {
    if (isObject(value) && trail.length > 0) {
      const key = structuralKey(value);
      found.set(key, [...(found.get(key) ?? []), { trail, origin }]);
    }
    if (value === null || typeof value !== "object") return;
    for (const [key, child] of Object.entries(value)) visit(child, [...trail, trailWord(key, value)], origin);
  };
  for (const { schema, origin } of constants) visit(schema, [], origin);
  return found;
}

/** `properties` and `items` are schema structure, not names; the words that name a place are the property keys. */
function trailWord(key: string, parent: object): string {
  if (Array.isArray(parent)) return key;
  if (key === "items") return ITEM;
  return key === "properties" ? "" : pascalCase(key);
}

/**
 * The sub-schemas to write once: largest first, each one that still stands in two or more places once the
 * larger ones chosen before it are written once (the conditions' items stand only inside the conditions).
 */
function chooseShared(
  constants: readonly SchemaConstant[],
  occurrences: Map<string, Occurrence[]>,
): Map<string, unknown> {
  const candidates = [...occurrences.entries()]
    .filter(([key, places]) => places.length > 1 && key.length >= MIN_SHARED_LENGTH)
    .map(([key]) => key)
    .sort((a, b) => b.length - a.length || (a < b ? -1 : 1));

  const shared = new Map<string, unknown>();
  for (const candidate of candidates) {
    let count = 0;
    let value: unknown;
    walkCollapsed(constants, shared, (key, node) => {
      if (key !== candidate) return;
      count++;
      value = node;
    });
    if (count > 1) shared.set(candidate, value);
  }
  return shared;
}

/** Visits each object once per place it stands, with each shared sub-schema's body visited once. */
function walkCollapsed(
  constants: readonly SchemaConstant[],
  shared: Map<string, unknown>,
  onObject: (key: string, node: unknown) => void,
): void {
  const bodiesVisited = new Set<string>();
  const visit = (value: unknown, isRoot: boolean): void => {
    if (value === null || typeof value !== "object") return;
    if (isObject(value) && !isRoot) {
      const key = structuralKey(value);
      onObject(key, value);
      if (shared.has(key)) {
        if (bodiesVisited.has(key)) return;
        bodiesVisited.add(key);
      }
    }
    for (const child of Object.values(value)) visit(child, false);
  };
  for (const { schema } of constants) visit(schema, true);
}

/** The shared sub-schemas in order of first use, each after the shared ones inside it. */
function orderedShared(
  constants: readonly SchemaConstant[],
  shared: Map<string, unknown>,
): Array<{ key: string; value: unknown }> {
  const ordered: Array<{ key: string; value: unknown }> = [];
  const done = new Set<string>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== "object") return;
    const key = isObject(value) ? structuralKey(value) : undefined;
    if (key !== undefined && done.has(key)) return;
    for (const child of Object.values(value)) visit(child);
    if (key !== undefined && shared.has(key)) {
      done.add(key);
      ordered.push({ key, value });
    }
  };
  for (const { schema } of constants) visit(schema);
  return ordered;
}

/**
 * Each shared sub-schema is named after the trailing path words all its places share (`conditions`),
 * unless that is only `Item`, or else after its first place (`attestationPolicySpecTdxMrTdItem`), with
 * `Schema` appended.
 */
function nameShared(
  shared: Map<string, unknown>,
  occurrences: Map<string, Occurrence[]>,
): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const key of shared.keys()) {
    const places = occurrences.get(key) ?? [];
    const trails = places.map(({ trail }) => trail.filter((word) => word !== ""));
    const [first] = places;
    const fallback = first === undefined ? "shared" : camelCase([first.origin, ...first.trail].join(""));
    let name = `${fallback}Schema`;
    const shortest = Math.min(...trails.map((trail) => trail.length));
    for (let length = 1; length <= shortest; length++) {
      const suffixes = new Set(trails.map((trail) => trail.slice(-length).join("")));
      const [suffix] = suffixes;
      if (suffixes.size !== 1 || suffix === undefined) break;
      if (suffix === ITEM) continue;
      const candidate = `${camelCase(suffix)}Schema`;
      if (!taken.has(candidate)) {
        name = candidate;
        break;
      }
    }
    if (taken.has(name)) throw new Error(`shared-schemas: two sub-schemas would be named ${name}`);
    taken.add(name);
    names.set(key, name);
  }
  return names;
}

function describe({ origin, trail }: Occurrence): string {
  const path = trail
    .filter((word) => word !== "")
    .map((word) => (word === ITEM ? "[]" : `.${camelCase(word)}`))
    .join("");
  return `${origin} ${path.replace(/^\./, "")}`;
}

/** JavaScript source for a JSON value, with each shared sub-schema below the top written as its name. */
function toSource(value: unknown, names: Map<string, string>, isTop: boolean): string {
  if (Array.isArray(value)) return `[${value.map((item) => toSource(item, names, false)).join(", ")}]`;
  if (!isObject(value)) return JSON.stringify(value);
  const name = isTop ? undefined : names.get(structuralKey(value));
  if (name !== undefined) return name;
  const entries = Object.entries(value).map(
    ([key, child]) => `${JSON.stringify(key)}: ${toSource(child, names, false)}`,
  );
  return `{${entries.join(", ")}}`;
}
