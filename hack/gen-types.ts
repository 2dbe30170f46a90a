// Generates TypeScript types and schemas from crds/*.yaml and KubeVirt's pinned OpenAPI spec, and
// docs/schemas/evidence-bundle.schema.json from the ConfidentialVM CRD.
// Usage: node hack/gen-types.ts [--check]   (--check: exit 1 naming each stale file, write nothing)

import { fileURLToPath } from "node:url";
import { generateFiles, staleFiles, writeFiles } from "./lib/generated-files.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const check = process.argv.includes("--check");

const files = await generateFiles(root);
const stale = staleFiles(root, files);
if (check) {
  for (const path of stale) process.stderr.write(`gen-types: ${path} is stale; run make gen\n`);
  process.exitCode = stale.length === 0 ? 0 : 1;
} else {
  writeFiles(root, files);
  const changed = stale.length === 0 ? "none changed" : `changed: ${stale.join(", ")}`;
  process.stdout.write(`gen-types: ${String(files.length)} files (${changed})\n`);
}
