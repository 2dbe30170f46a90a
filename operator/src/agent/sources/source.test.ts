import { expect } from "chai";
import { HostRoot } from "../host-root.ts";
import { outputOf, runSources, SourceRegistry, type Source } from "./source.ts";

const constant = (name: string, facts: number): Source<number> => ({
  name,
  scan: () => Promise.resolve({ facts, problems: [] }),
});

describe("SourceRegistry", () => {
  it("rejects a second source with the same name", () => {
    const registry = new SourceRegistry().register(constant("tdx", 1));
    expect(() => registry.register(constant("tdx", 2))).to.throw(/"tdx" is already registered/);
  });

  it("runs every source and turns a throwing one into a failure under its name", async () => {
    const one = constant("one", 1);
    const broken: Source<number> = { name: "broken", scan: () => Promise.reject(new Error("boom")) };
    const registry = new SourceRegistry().register(one).register(broken);
    const results = await runSources(registry, { host: new HostRoot("/nonexistent"), ccModeProviders: [] });
    expect(outputOf(results, one)?.facts).to.equal(1);
    expect(outputOf(results, broken)).to.equal(undefined);
    expect(results.failures.get("broken")).to.equal("source broken failed: boom");
  });
});
