// Reads the project's CRDs (crds/*.yaml), the single source of truth for the trustgate.io API types.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { SchemaNode } from "./schema-to-ts.ts";

export interface CrdNames {
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames?: string[];
}

/** One served version of a CRD, with what the generators need. */
export interface CrdVersion {
  /** The file the CRD came from, relative to the repo root. */
  file: string;
  group: string;
  version: string;
  namespaced: boolean;
  names: CrdNames;
  schema: SchemaNode & Record<string, unknown>;
}

interface CrdDocument {
  kind?: string;
  spec?: {
    group?: string;
    scope?: string;
    names?: CrdNames;
    versions?: Array<{ name?: string; schema?: { openAPIV3Schema?: SchemaNode & Record<string, unknown> } }>;
  };
}

/** Every CRD in `<root>/crds` (sorted by file name) at the given version. */
export function readCrds(root: string, version: string): CrdVersion[] {
  const files = readdirSync(join(root, "crds"))
    .filter((name) => name.endsWith(".yaml"))
    .sort();
  return files.map((name) => {
    const file = `crds/${name}`;
    const document = parse(readFileSync(join(root, file), "utf8")) as CrdDocument;
    return crdVersion(file, document, version);
  });
}

/** The named version of a parsed CustomResourceDefinition; throws when something the generators need is missing. */
export function crdVersion(file: string, document: CrdDocument, version: string): CrdVersion {
  const spec = document.spec;
  if (document.kind !== "CustomResourceDefinition" || spec?.group === undefined || spec.names === undefined) {
    throw new Error(`${file}: not a CustomResourceDefinition with spec.group and spec.names`);
  }
  const schema = spec.versions?.find((candidate) => candidate.name === version)?.schema?.openAPIV3Schema;
  if (schema === undefined) throw new Error(`${file}: no openAPIV3Schema for version ${version}`);
  return {
    file,
    group: spec.group,
    version,
    namespaced: spec.scope === "Namespaced",
    names: spec.names,
    schema,
  };
}
