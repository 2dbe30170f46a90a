import { expect } from "chai";
import { sharedBundleCases } from "../../operator/test/support/shared-evidence.ts";
import { bundleFileName } from "./bundle-files.ts";

describe("evidence bundle file names (hack/evidence-bundles.ts)", () => {
  it("names each collateral snapshot of an item apart", () => {
    expect(bundleFileName("tdx/automata-00806f050000-v4 (2025-07) at 2025-07-20T00:00:00Z")).to.equal(
      "tdx-automata-00806f050000-v4-2025-07.json",
    );
    expect(bundleFileName("snp/google-milan-v2 at 2029-09-24T00:00:00Z")).to.equal(
      "snp-google-milan-v2.json",
    );
  });

  it("gives two shared cases one file only when their bundles are the same", () => {
    const byFile = new Map<string, string>();
    for (const c of sharedBundleCases()) {
      const file = bundleFileName(c.name);
      const bundle = JSON.stringify(c.bundle);
      expect(byFile.get(file) ?? bundle, `${c.name} → ${file}`).to.equal(bundle);
      byFile.set(file, bundle);
    }
    expect(byFile.size).to.be.greaterThan(10);
  });
});
