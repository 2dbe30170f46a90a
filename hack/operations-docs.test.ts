// The operations guides (docs/production-install.md, troubleshooting.md, upgrade.md, faults.md): linked from the README, their
// relative links resolve, and the chart values and flags they tell an operator to set exist.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { parse } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));
const GUIDES = ["docs/production-install.md", "docs/troubleshooting.md", "docs/upgrade.md", "docs/faults.md"];

function text(path: string): string {
  return readFileSync(join(root, path), "utf8");
}

/** Whether a dotted path (controller.collateral.intel.pccsUrl) names a value in values.yaml. */
function hasValue(values: unknown, path: string): boolean {
  let node = values;
  for (const key of path.split(".")) {
    if (typeof node !== "object" || node === null || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

describe("operations guides", () => {
  it("are linked from the README", () => {
    const readme = text("README.md");
    for (const guide of GUIDES) expect(readme, guide).to.include(`](${guide})`);
  });

  for (const guide of GUIDES)
    it(`${guide}: every relative link resolves`, () => {
      const links = [...text(guide).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
        .map((m) => m[1] ?? "")
        .filter((l) => !/^[a-z]+:/.test(l));
      expect(links).to.not.be.empty;
      for (const link of links) expect(existsSync(join(root, dirname(guide), link)), link).to.equal(true);
    });

  it("name only chart values that exist", () => {
    const values = parse(text("charts/trustgate/values.yaml")) as unknown;
    const named = new Set<string>();
    for (const guide of GUIDES)
      for (const m of text(guide).matchAll(
        /`((?:controller|agent|webhook|metrics|networkPolicy|crds)\.[A-Za-z.]+)/g,
      ))
        named.add(m[1] ?? "");
    expect(named.size).to.be.above(10);
    const missing = [...named].filter((path) => !hasValue(values, path));
    expect(missing).to.deep.equal([]);
  });
});
