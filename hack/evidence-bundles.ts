// Writes every TDX/SNP evidence item (operator/test/fixtures/evidence) as an evidence bundle
// (docs/evidence-bundle.md), with the verification time and verdict its MANIFEST gives, for `trustgate verify`:
//   make evidence-bundles OUT=<out-dir>     (or: node hack/evidence-bundles.ts <out-dir>, with Node >= 22.19)
//   ./bin/trustgate verify <out-dir>/<bundle>.json --at <time from index.json>
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sharedBundleCases } from "../operator/test/support/shared-evidence.ts";
import { bundleFileName } from "./lib/bundle-files.ts";

const out = process.argv[2];
if (out === undefined) {
  console.error("usage: node hack/evidence-bundles.ts <out-dir>");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const index: Record<string, unknown>[] = [];
const written = new Set<string>();
for (const c of sharedBundleCases()) {
  const file = bundleFileName(c.name);
  if (!written.has(file)) writeFileSync(join(out, file), `${JSON.stringify(c.bundle, null, 2)}\n`);
  written.add(file);
  index.push({
    file,
    at: c.at,
    authentic: c.authentic,
    tcbStatus: c.tcbStatus,
    errorCodes: c.errorCodes,
    policy: c.policy,
  });
}
writeFileSync(join(out, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
console.log(`wrote ${written.size} bundles and index.json to ${out}`);
