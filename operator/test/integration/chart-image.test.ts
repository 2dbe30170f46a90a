// The container image's Dockerfile, checked against what make build, the tests and the chart use
// (there is no Docker engine here to build it).
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "../support/samples.ts";

describe("Helm chart charts/trustgate: the container image (Dockerfile; there is no Docker engine here to build it)", function () {
  it("builds with the commands make build and the tests use, on the tests' Node, into the entrypoint the chart runs", async function () {
    const read = (file: string): Promise<string> => readFile(join(REPO_ROOT, file), "utf8");
    const [dockerfile, setupNode, makefile, versions, chartYaml, pkg] = await Promise.all([
      read("Dockerfile"),
      read("hack/setup-node.sh"),
      read("Makefile"),
      read("hack/versions.sh"),
      read("charts/trustgate/Chart.yaml"),
      read("package.json"),
    ]);
    const runs = [...dockerfile.matchAll(/^RUN (.+)$/gm)].map((m) => m[1]);
    expect(runs).to.deep.equal([
      "npm ci --no-audit --no-fund --loglevel=error",
      "npx tsc -p tsconfig.build.json",
      "npm ci --omit=dev --no-audit --no-fund --loglevel=error",
    ]);
    expect(setupNode).to.include("npm ci --no-audit --no-fund --loglevel=error");
    expect(makefile).to.include("tsc -p tsconfig.build.json");
    const nodeVersion = /^NODE_VERSION=(\S+)$/m.exec(versions)?.[1] ?? "?";
    expect(dockerfile).to.include(`ARG NODE_IMAGE=node:${nodeVersion}-bookworm-slim`);
    expect(dockerfile).to.match(/^USER 65532:65532$/m);
    expect(dockerfile).to.include('ENTRYPOINT ["node", "/app/dist/operator/src/cmd/main.js"]');
    // tsconfig.build.json compiles operator/src/cmd/main.ts to dist/operator/src/cmd/main.js.
    await readFile(join(REPO_ROOT, "operator/src/cmd/main.ts"));
    // The chart's default image tag is the version the image reports.
    const appVersion = /^appVersion: "(.+)"$/m.exec(chartYaml)?.[1];
    expect(appVersion).to.equal((JSON.parse(pkg) as { version: string }).version);
  });
});
