import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";

const SCRIPT = new URL("./sim-pki.ts", import.meta.url).pathname;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], (error, stdout, stderr) => {
      resolve({
        code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
        stdout,
        stderr,
      });
    });
  });
}

describe("hack/sim-pki.ts", function () {
  this.timeout(30_000);

  it("writes a simulated PKI and prints its trust-roots.json; refuses to overwrite; explains its usage", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trustgate-sim-pki-cli-"));
    try {
      const target = join(dir, "pki");
      const first = await run([target, "--snp-product", "Milan"]);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout.trim()).to.equal(join(target, "trust-roots.json"));
      expect((await stat(join(target, "private", "amd-ask.key.pem"))).mode & 0o777).to.equal(0o600);
      const again = await run([target]);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.include("already holds a simulated PKI");
      for (const args of [[], [target, "--snp-product", "Turin"], [target, "extra"]])
        expect((await run(args)).code, args.join(" ")).to.equal(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
