// Fails listing every CRD field (crds/*.yaml) without a description: `kubectl explain` must document
// every field. Usage: node hack/crd-descriptions.ts [repository root; default this one]
import { fileURLToPath } from "node:url";
import { undescribedCrdFields } from "./lib/crd-descriptions.ts";

const root = process.argv[2] ?? fileURLToPath(new URL("..", import.meta.url));
const problems = undescribedCrdFields(root);
for (const problem of problems) process.stderr.write(`crd-descriptions: no description: ${problem}\n`);
if (problems.length > 0) {
  process.stderr.write(`crd-descriptions: ${String(problems.length)} fields without a description\n`);
  process.exitCode = 1;
}
