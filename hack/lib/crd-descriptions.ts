// Finds CRD schema fields without a description, so `kubectl explain` documents every field.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

interface SchemaLike {
  type?: unknown;
  description?: unknown;
  properties?: Record<string, SchemaLike>;
  items?: SchemaLike;
  additionalProperties?: boolean | SchemaLike;
}

/**
 * Paths (as `kubectl explain` names them: `spec.gpu.allowDebug`, `status.gpus[].uuid`) of every field
 * under `schema` that has no non-empty description. The root object itself is not a field; apiVersion,
 * kind and metadata are the API machinery's and exempt.
 */
export function undescribedFields(schema: SchemaLike): string[] {
  const missing: string[] = [];
  const visit = (node: SchemaLike, path: string): void => {
    if (typeof node.description !== "string" || node.description.trim() === "") missing.push(path);
    walk(node, path);
  };
  const walk = (node: SchemaLike, path: string): void => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      if (path === "" && ["apiVersion", "kind", "metadata"].includes(name)) continue;
      visit(child, path === "" ? name : `${path}.${name}`);
    }
    // Array items and map values are described by their field; their own properties are fields too.
    if (node.items !== undefined) walk(node.items, `${path}[]`);
    if (typeof node.additionalProperties === "object") walk(node.additionalProperties, `${path}{}`);
  };
  walk(schema, "");
  return missing;
}

interface CrdFile {
  kind?: unknown;
  spec?: {
    names?: { kind?: string };
    versions?: Array<{ name?: string; schema?: { openAPIV3Schema?: SchemaLike } }>;
  };
}

/** `<file>: <Kind> <version> <path>` for every undescribed field of every CRD in `<root>/crds`. */
export function undescribedCrdFields(root: string): string[] {
  const problems: string[] = [];
  const files = readdirSync(join(root, "crds"))
    .filter((name) => name.endsWith(".yaml"))
    .sort();
  for (const name of files) {
    const file = `crds/${name}`;
    const crd = parse(readFileSync(join(root, file), "utf8")) as CrdFile;
    if (crd.kind !== "CustomResourceDefinition") {
      problems.push(`${file}: not a CustomResourceDefinition`);
      continue;
    }
    for (const version of crd.spec?.versions ?? []) {
      const schema = version.schema?.openAPIV3Schema;
      const where = `${file}: ${crd.spec?.names?.kind ?? "?"} ${version.name ?? "?"}`;
      if (schema === undefined) {
        problems.push(`${where}: no openAPIV3Schema`);
        continue;
      }
      for (const path of undescribedFields(schema)) problems.push(`${where} ${path}`);
    }
  }
  return problems;
}
