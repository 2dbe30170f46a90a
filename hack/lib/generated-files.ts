// Everything hack/gen-types.ts writes (types, CRD schemas, docs/schemas/evidence-bundle.schema.json), as pure data: what `make gen` writes and `make verify-gen` compares.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { format, resolveConfig } from "prettier";
import { readCrds } from "./crd-source.ts";
import { renderCrdSchemas, renderCrdTypes } from "./crd-types.ts";
import { renderEvidenceBundleSchema } from "./evidence-schema.ts";
import { readPinnedFile } from "./kubevirt-pin.ts";
import { renderKubevirtTypes } from "./kubevirt-types.ts";

export interface GeneratedFile {
  /** Relative to the repo root. */
  path: string;
  content: string;
}

export const CRD_TYPES_PATH = "operator/src/api/v1alpha1/generated/types.ts";
export const CRD_SCHEMAS_PATH = "operator/src/api/v1alpha1/generated/schemas.ts";
export const KUBEVIRT_TYPES_PATH = "operator/src/kubevirt/generated/types.ts";
export const EVIDENCE_BUNDLE_SCHEMA_PATH = "docs/schemas/evidence-bundle.schema.json";

/** Freshly generated, prettier-formatted content of every generated file. */
export async function generateFiles(root: string): Promise<GeneratedFile[]> {
  const crds = readCrds(root, "v1alpha1");
  const sources = [
    { path: CRD_TYPES_PATH, source: renderCrdTypes(crds) },
    { path: CRD_SCHEMAS_PATH, source: renderCrdSchemas(crds) },
    { path: KUBEVIRT_TYPES_PATH, source: renderKubevirtTypes(readPinnedFile(root, "openapi-spec.json")) },
    { path: EVIDENCE_BUNDLE_SCHEMA_PATH, source: renderEvidenceBundleSchema(crds) },
  ];
  return Promise.all(
    sources.map(async ({ path, source }) => ({ path, content: await formatted(join(root, path), source) })),
  );
}

async function formatted(filepath: string, source: string): Promise<string> {
  const options = (await resolveConfig(filepath)) ?? {};
  return format(source, { ...options, filepath });
}

/** Paths of generated files whose committed content differs from `files`. */
export function staleFiles(root: string, files: readonly GeneratedFile[]): string[] {
  return files
    .filter(({ path, content }) => {
      const absolute = join(root, path);
      return !existsSync(absolute) || readFileSync(absolute, "utf8") !== content;
    })
    .map(({ path }) => path);
}

export function writeFiles(root: string, files: readonly GeneratedFile[]): void {
  for (const { path, content } of files) {
    const absolute = join(root, path);
    mkdirSync(dirname(absolute), { recursive: true });
    writeFileSync(absolute, content);
  }
}
