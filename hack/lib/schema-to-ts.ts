// A small JSON-schema → TypeScript emitter for Kubernetes-style schemas (CRD structural schemas and
// Swagger 2.0 definitions). Named roots become interfaces (or type aliases); nested object schemas with
// properties become interfaces named after their path, with structurally identical ones shared.

import { jsDoc, literalType, pascalCase, propertyKey, singular } from "./ts-syntax.ts";

/** The parts of a schema node the emitter reads. */
export interface SchemaNode {
  type?: string | string[];
  description?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: boolean | SchemaNode;
  enum?: unknown[];
  nullable?: boolean;
  $ref?: string;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
}

/** A schema whose type gets a fixed name. */
export interface NamedSchema {
  name: string;
  schema: SchemaNode;
}

export interface EmitOptions {
  /** The type name a `$ref` stands for; needed only when the schemas contain `$ref`s. */
  refName?: (ref: string) => string;
}

interface NestedObject {
  node: SchemaNode;
  /** Name derived from the root name and the property path. */
  pathName: string;
  /** The property path below the root as PascalCase words (array items singular). */
  trail: string[];
  /** Structural identity: identical keys get one shared declaration. */
  key: string;
}

interface Declaration {
  name: string;
  node: SchemaNode;
}

/** TypeScript declarations (unformatted, deterministic) for the named schemas and everything nested in them. */
export function emitDeclarations(roots: readonly NamedSchema[], options: EmitOptions = {}): string {
  const nestedByRoot = roots.map((root) => collectNested(root));
  const names = assignNames(
    roots.map((root) => root.name),
    nestedByRoot.flat(),
  );

  const declared = new Set<string>();
  const declarations: Declaration[] = [];
  roots.forEach((root, index) => {
    declarations.push({ name: root.name, node: root.schema });
    for (const nested of nestedByRoot[index] ?? []) {
      const name = names.get(nested.node);
      if (name === undefined || declared.has(name)) continue;
      declared.add(name);
      declarations.push({ name, node: nested.node });
    }
  });

  const typeOf = typeExpression(names, options);
  const interfaces = declarations
    .filter(({ node }) => hasProperties(node))
    .map(({ name, node }) => ({ name, members: interfaceMembers(node, typeOf) }));
  const members = new Map(interfaces.map((declaration) => [declaration.name, declaration.members]));
  const reused = reusedTypes(interfaces);
  return declarations
    .map(({ name, node }) => {
      const doc = jsDoc(node.description, "");
      const type = hasProperties(node) ? reused.get(name) : typeOf(node);
      if (type !== undefined) return `${doc}export type ${name} = ${type};\n`;
      const body = (members.get(name) ?? []).map((member) => member.doc + member.signature).join("");
      return `${doc}export interface ${name} {\n${body}}\n`;
    })
    .join("\n");
}

function hasProperties(node: SchemaNode): boolean {
  return node.$ref === undefined && node.properties !== undefined && Object.keys(node.properties).length > 0;
}

function collectNested(root: NamedSchema): NestedObject[] {
  const found: NestedObject[] = [];
  const visit = (node: SchemaNode, trail: string[]): void => {
    if (node.$ref !== undefined) return;
    if (trail.length > 0 && hasProperties(node)) {
      found.push({ node, pathName: root.name + trail.join(""), trail, key: structuralKey(node) });
    }
    for (const [key, child] of Object.entries(node.properties ?? {}))
      visit(child, [...trail, pascalCase(key)]);
    if (node.items !== undefined) visit(node.items, itemTrail(trail));
    if (typeof node.additionalProperties === "object") visit(node.additionalProperties, [...trail, "Value"]);
  };
  visit(root.schema, []);
  return found;
}

function itemTrail(trail: string[]): string[] {
  const last = trail.at(-1);
  return last === undefined ? ["Item"] : [...trail.slice(0, -1), singular(last)];
}

/** The same string for values that are equal as JSON, whatever the order of their keys. */
export function structuralKey(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(structuralKey).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${structuralKey(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * One name per nested object. A structure found at several paths is named after the trailing path
 * words all of them share (status.conditions[] in every CRD → `Condition`), shortest first, falling back
 * to its first path name when nothing is shared or the name is taken.
 */
function assignNames(rootNames: readonly string[], nested: readonly NestedObject[]): Map<SchemaNode, string> {
  const groups = new Map<string, NestedObject[]>();
  for (const object of nested) groups.set(object.key, [...(groups.get(object.key) ?? []), object]);

  const taken = new Set<string>(rootNames);
  const pathNames = new Set(nested.map((object) => object.pathName));
  const result = new Map<SchemaNode, string>();
  for (const group of groups.values()) {
    const first = group[0];
    if (first === undefined) continue;
    const name = group.length > 1 ? sharedName(group, taken, pathNames) : first.pathName;
    if (taken.has(name)) throw new Error(`schema-to-ts: two types would be named ${name}`);
    taken.add(name);
    for (const object of group) result.set(object.node, name);
  }
  return result;
}

function sharedName(group: readonly NestedObject[], taken: Set<string>, pathNames: Set<string>): string {
  const trails = group.map((object) => object.trail);
  const shortest = Math.min(...trails.map((trail) => trail.length));
  for (let length = 1; length <= shortest; length++) {
    const suffixes = new Set(trails.map((trail) => trail.slice(-length).join("")));
    const [suffix] = suffixes;
    if (suffixes.size !== 1 || suffix === undefined) break;
    if (!taken.has(suffix) && !pathNames.has(suffix)) return suffix;
  }
  return group[0]?.pathName ?? "";
}

type TypeOf = (node: SchemaNode) => string;

function typeExpression(names: Map<SchemaNode, string>, options: EmitOptions): TypeOf {
  const typeOf = (node: SchemaNode): string => {
    const alternatives = baseTypes(node, names, options, typeOf);
    if (node.nullable === true && !alternatives.includes("null")) alternatives.push("null");
    return alternatives.join(" | ");
  };
  return typeOf;
}

function baseTypes(
  node: SchemaNode,
  names: Map<SchemaNode, string>,
  options: EmitOptions,
  typeOf: TypeOf,
): string[] {
  if (node.$ref !== undefined) {
    if (options.refName === undefined)
      throw new Error(`schema-to-ts: no refName option for $ref ${node.$ref}`);
    return [options.refName(node.$ref)];
  }
  if (node["x-kubernetes-int-or-string"] === true) return ["number", "string"];
  if (node.enum !== undefined) return [...new Set(node.enum.map(literalType))];

  const declared = names.get(node);
  if (declared !== undefined) return [declared];

  const types = typeof node.type === "string" ? [node.type] : (node.type ?? impliedTypes(node));
  if (types.length === 0) return ["unknown"];
  const out = types.map((type) => {
    switch (type) {
      case "string":
        return "string";
      case "integer":
      case "number":
        return "number";
      case "boolean":
        return "boolean";
      case "null":
        return "null";
      case "array":
        return node.items === undefined ? "unknown[]" : arrayOf(typeOf(node.items));
      case "object":
        return objectType(node, typeOf);
      default:
        return "unknown";
    }
  });
  return [...new Set(out)];
}

function impliedTypes(node: SchemaNode): string[] {
  if (node.properties !== undefined || node.additionalProperties !== undefined) return ["object"];
  if (node.items !== undefined) return ["array"];
  return [];
}

function arrayOf(element: string): string {
  return /^[A-Za-z0-9_$.]+$/.test(element) ? `${element}[]` : `Array<${element}>`;
}

function objectType(node: SchemaNode, typeOf: TypeOf): string {
  if (typeof node.additionalProperties === "object")
    return `Record<string, ${typeOf(node.additionalProperties)}>`;
  if (node.additionalProperties === true || node["x-kubernetes-preserve-unknown-fields"] === true) {
    return "Record<string, unknown>";
  }
  // A structural schema prunes every field of an object that declares none, so it is always empty.
  return "Record<string, never>";
}

interface Member {
  key: string;
  doc: string;
  signature: string;
}

function interfaceMembers(node: SchemaNode, typeOf: TypeOf): Member[] {
  const required = new Set(node.required ?? []);
  return Object.entries(node.properties ?? {}).map(([key, property]) => {
    const optional = required.has(key) ? "" : "?";
    const signature = `  ${propertyKey(key)}${optional}: ${typeOf(property)};\n`;
    return { key, doc: jsDoc(property.description, "  "), signature };
  });
}

/** A single member says too little to call two types one. */
const MIN_ALIASED_MEMBERS = 2;
/** A type is written as another minus some members only when it is large and lacks at most a few. */
const MIN_OMIT_MEMBERS = 6;
const MAX_OMITTED_MEMBERS = 2;

/**
 * Interfaces written as another type: the same members as an earlier one but for their documentation
 * (`= Earlier`), or a large one's members but a few (`= Omit<Larger, "a">`). Keyed by name.
 */
function reusedTypes(interfaces: ReadonlyArray<{ name: string; members: Member[] }>): Map<string, string> {
  const signatures = new Map(
    interfaces.map(({ name, members }) => [name, new Set(members.map((member) => member.signature))]),
  );
  const reused = new Map<string, string>();
  const firstWithSignatures = new Map<string, string>();
  for (const { name, members } of interfaces) {
    const key = [...(signatures.get(name) ?? [])].sort().join("");
    const same = firstWithSignatures.get(key);
    if (same === undefined) firstWithSignatures.set(key, name);
    else if (members.length >= MIN_ALIASED_MEMBERS) reused.set(name, same);
  }
  for (const { name, members } of interfaces) {
    if (reused.has(name) || members.length < MIN_OMIT_MEMBERS) continue;
    const larger = interfaces.find(
      (other) =>
        !reused.has(other.name) &&
        other.members.length > members.length &&
        other.members.length - members.length <= MAX_OMITTED_MEMBERS &&
        members.every((member) => signatures.get(other.name)?.has(member.signature)),
    );
    if (larger === undefined) continue;
    const own = new Set(members.map((member) => member.key));
    const omitted = larger.members.filter((member) => !own.has(member.key)).map((member) => member.key);
    reused.set(name, `Omit<${larger.name}, ${omitted.map((key) => JSON.stringify(key)).join(" | ")}>`);
  }
  return reused;
}
