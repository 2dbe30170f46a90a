import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { REPO_ROOT } from "../../test/support/samples.ts";
import { sharedBundleCases } from "../../test/support/shared-evidence.ts";
import type { Appraisal as VerifyReport } from "../attestation/appraise.ts";

const MAIN = join(REPO_ROOT, "operator/src/cmd/main.ts");

function trustgate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

describe("trustgate verify (the CLI as a process, on every shared TDX and SNP item)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-verify-"));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // Each case runs the real CLI; the processes run four at a time up front, the assertions per case.
  const cases = sharedBundleCases();
  const runs = new Map<number, Promise<{ code: number; stdout: string; stderr: string }>>();
  before(() => {
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < cases.length; i = next++) {
        const c = cases[i];
        if (c === undefined) return;
        const bundlePath = join(dir, `bundle-${i}.json`);
        writeFileSync(bundlePath, JSON.stringify(c.bundle));
        const args = ["verify", bundlePath, "--at", c.at];
        if (c.policy !== undefined) {
          const policyPath = join(dir, `policy-${i}.yaml`);
          writeFileSync(
            policyPath,
            stringify({
              apiVersion: "trustgate.io/v1alpha1",
              kind: "AttestationPolicy",
              metadata: { name: "p" },
              spec: c.policy,
            }),
          );
          args.push("--policy", policyPath);
        }
        const run = trustgate(args);
        runs.set(i, run);
        await run;
      }
    };
    void Promise.all([lane(), lane(), lane(), lane()]);
  });

  cases.forEach((c, i) => {
    it(`${c.name}: ${c.authentic ? "authentic" : "not authentic"}${c.tcbStatus === undefined ? "" : `, ${c.tcbStatus}`}`, async () => {
      while (!runs.has(i)) await new Promise((resolve) => setTimeout(resolve, 20));
      const { code, stdout } = await (runs.get(i) as Promise<{ code: number; stdout: string }>);
      const report = JSON.parse(stdout) as VerifyReport;
      expect(report.tee.authentic, JSON.stringify(report.tee.errors)).to.equal(c.authentic);
      if (c.tcbStatus !== undefined) expect(report.tee.tcbStatus).to.equal(c.tcbStatus);
      expect(report.tee.errors.map((e) => e.code).sort()).to.deep.equal([...c.errorCodes].sort());
      const genuine = c.authentic && c.errorCodes.length === 0 && (c.tcbStatus ?? "UpToDate") === "UpToDate";
      // Offline, without a challenge of ours and with no measurement pinned, genuine evidence is at best a warning.
      expect(report.verdict).to.equal(genuine ? "warning" : "contraindicated");
      if (genuine) {
        expect(report.warnings.map((w) => w.code)).to.include("MeasurementsUnpinned");
        expect(report.warnings.map((w) => w.code)).to.include.oneOf(["BindingUnchecked", "BindingMismatch"]);
      }
      expect(code).to.equal(1);
    });
  });

  it("enforces the binding with --nonce: real evidence answers no challenge of ours", async () => {
    const c = sharedBundleCases().find((x) => x.name.startsWith("tdx/dcapqvl-uptodate-v4"));
    const bundlePath = join(dir, "binding.json");
    writeFileSync(bundlePath, JSON.stringify(c?.bundle));
    const { code, stdout } = await trustgate([
      "verify",
      bundlePath,
      "--at",
      c?.at ?? "",
      "--nonce",
      "ab".repeat(32),
    ]);
    const report = JSON.parse(stdout) as VerifyReport;
    expect(report.tee.errors.map((e) => e.code)).to.include.members(["NonceMismatch", "BindingMismatch"]);
    expect(report.verdict).to.equal("contraindicated");
    expect(code).to.equal(1);
  });

  const unreadable: [string, string[], string][] = [
    ["a missing file", ["verify", "/nonexistent/bundle.json"], "cannot read"],
    ["a file that is not JSON", ["verify", MAIN], "is not JSON"],
    ["a bad --at", ["verify", MAIN, "--at", "yesterday"], "not an RFC 3339 time"],
    ["a bad --nonce", ["verify", MAIN, "--nonce", "xyz"], "--nonce must be 64 lowercase hex"],
    ["no bundle", ["verify"], "give exactly one bundle file"],
  ];
  for (const [name, args, message] of unreadable) {
    it(`exits 2 for ${name}`, async () => {
      const { code, stderr, stdout } = await trustgate(args);
      expect(code).to.equal(2);
      expect(stderr).to.include(message);
      expect(stdout).to.equal("");
    });
  }

  it("is contraindicated (exit 1, EvidenceMalformed) for a bundle whose quote is malformed", async () => {
    const path = join(dir, "garbage.json");
    writeFileSync(path, JSON.stringify({ tee: { type: "tdx", quote: "AAAA" } }));
    const { code, stdout } = await trustgate(["verify", path]);
    expect(code).to.equal(1);
    expect((JSON.parse(stdout) as VerifyReport).tee.errors[0]?.code).to.equal("EvidenceMalformed");
  });
});
