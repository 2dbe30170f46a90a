import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const script = join(ROOT, "hack/kind-up.sh");

// kind-up.sh needs Docker, which CI does not have; these checks keep it from rotting unnoticed.
describe("hack/kind-up.sh (the kind path; not runnable without Docker)", function () {
  const text = readFileSync(script, "utf8");

  it("is valid bash", function () {
    expect(() => execFileSync("bash", ["-n", script])).not.to.throw();
  });

  it("names only files that exist in the repository", function () {
    const paths = [...text.matchAll(/\b((?:crds|charts)\/[\w./-]+)/g)].map((m) => m[1] ?? "");
    expect(paths).to.include("charts/trustgate");
    for (const path of paths) expect(existsSync(join(ROOT, path)), path).to.equal(true);
  });

  it("sets only chart values that values.yaml declares", function () {
    const values = readFileSync(join(ROOT, "charts/trustgate/values.yaml"), "utf8");
    const set = [...text.matchAll(/--set ([\w.]+)=/g)].map((m) => m[1] ?? "");
    expect(set).to.have.length.greaterThan(0);
    for (const key of set) {
      const [section, field] = key.split(".");
      expect(values, key).to.match(new RegExp(`^${section ?? ""}:[\\s\\S]*?\\n  ${field ?? ""}:`, "m"));
    }
  });
});
