/**
 * File names for the shared evidence cases written as bundles (hack/evidence-bundles.ts): one file per item and
 * collateral snapshot ("tdx/automata-00806f050000-v4 (2025-07) at …" → tdx-automata-00806f050000-v4-2025-07.json),
 * shared by the cases that verify the same bundle at other times.
 */
export function bundleFileName(caseName: string): string {
  const item = caseName.split(" at ")[0] ?? caseName;
  const slug = item
    .replace(/[()]/g, "")
    .trim()
    .replace(/[^A-Za-z0-9.-]+/g, "-");
  return `${slug === "" ? "bundle" : slug}.json`;
}
