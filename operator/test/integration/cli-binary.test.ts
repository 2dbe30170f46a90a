/**
 * The shipped launcher ./bin/trustgate (the built JS in dist/, as in the image) on the CLI's cases: --version,
 * completion, verify from stdin as text, and crash cases that must end in one line and exit 2. No API server needed.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { SHARED_GPU_ITEMS, sharedGpuEntry } from "../fixtures/nvidia/shared-items.ts";
import { runTrustgate, stderrLines } from "../support/run-trustgate.ts";
import { sharedBundleCases } from "../support/shared-evidence.ts";
import { VERSION } from "../../src/version.ts";

const bin = (args: string[], stdin?: string) =>
  runTrustgate(args, { via: "bin", ...(stdin === undefined ? {} : { stdin }) });

describe("./bin/trustgate (the built CLI)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-cli-bin-"));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("--version and version print this build's version", async () => {
    const [flag, command] = await Promise.all([bin(["--version"]), bin(["version", "--json"])]);
    expect(flag).to.deep.include({ code: 0, stdout: `trustgate ${VERSION}\n` });
    expect(JSON.parse(command.stdout)).to.include({ version: VERSION });
  });

  it("completion bash completes verify's -o values once sourced", async () => {
    const script = await bin(["completion", "bash"]);
    expect(script.code).to.equal(0);
    const file = join(dir, "trustgate.bash");
    writeFileSync(file, script.stdout);
    const { stdout } = await promisify(execFile)("bash", [
      "-c",
      `source "${file}" && COMP_WORDS=(trustgate verify -o '') && COMP_CWORD=3 && _trustgate && echo "\${COMPREPLY[*]}"`,
    ]);
    expect(stdout.trim()).to.equal("json yaml text");
  });

  it("verify - -o text reads a PPCIe board's bundle from stdin and fits one screen", async () => {
    const snp = sharedBundleCases().find((c) => c.name.startsWith("snp/"));
    const gpu = SHARED_GPU_ITEMS.find((i) => i.deviceType === "gpu");
    const nvswitch = SHARED_GPU_ITEMS.find((i) => i.deviceType === "switch");
    if (snp === undefined || gpu === undefined || nvswitch === undefined) throw new Error("fixtures missing");
    const gpus = [...Array<typeof gpu>(8).fill(gpu), ...Array<typeof nvswitch>(4).fill(nvswitch)].map((i) =>
      sharedGpuEntry(i),
    );
    const run = await bin(
      ["verify", "-", "--at", snp.at, "-o", "text"],
      JSON.stringify({ ...snp.bundle, gpus }),
    );
    expect(run.code).to.equal(1);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).to.equal("Verdict: CONTRAINDICATED");
    expect(lines.length).to.be.at.most(50);
    expect(Math.max(...lines.map((l) => l.length))).to.be.at.most(120);
    expect(lines.filter((l) => /^ {2}\d+\s+(gpu|switch)\s/.test(l))).to.have.length(12);
  });

  it("crash cases end in one line and exit 2", async () => {
    const notJson = join(dir, "jwks.txt");
    writeFileSync(notJson, "<html>not a JWKS</html>");
    const cases: [string[], string][] = [
      [
        ["verify-token", "a.b.c", "--jwks", notJson],
        `trustgate verify-token: the JWKS ${notJson} is not JSON`,
      ],
      [
        ["controller", "--kubeconfig", "/nonexistent"],
        "trustgate controller: cannot load --kubeconfig /nonexistent",
      ],
      [
        ["agent", "--node-name", "n1", "--host-root", "/nonexistent", "--key-file", join(dir, "k.jwk")],
        "trustgate agent: --host-root /nonexistent is not a directory",
      ],
      [["verify", "-"], "trustgate verify: stdin is not JSON"],
    ];
    for (const [args, message] of cases) {
      const run = await bin(args, args[0] === "verify" ? "not json" : undefined);
      expect(run.code, args.join(" ")).to.equal(2);
      expect(stderrLines(run), args.join(" ")).to.have.length(1);
      expect(run.stderr).to.include(message);
    }
  });
});
