/**
 * Bad command lines and bad input end in one line on stderr and exit 2, never a stack trace: the daemons'
 * kubeconfig and host root, as processes.
 */
import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTrustgate, stderrLines } from "../../test/support/run-trustgate.ts";
import { REPO_ROOT } from "../../test/support/samples.ts";

describe("trustgate daemons refuse bad configuration with one line and exit 2 (as processes)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-cli-errors-"));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const badKubeconfig = join(dir, "bad.kubeconfig");
  writeFileSync(badKubeconfig, "apiVersion: v1\nkind: Config\nclusters: [\n");
  const kubeconfigCases: [string, string[], NodeJS.ProcessEnv, string][] = [
    [
      "a missing --kubeconfig",
      ["--kubeconfig", "/nonexistent"],
      {},
      "cannot load --kubeconfig /nonexistent: ENOENT",
    ],
    [
      "a --kubeconfig that is not YAML",
      ["--kubeconfig", badKubeconfig],
      {},
      `cannot load --kubeconfig ${badKubeconfig}:`,
    ],
    [
      "a missing $KUBECONFIG",
      [],
      { KUBECONFIG: join(dir, "none") },
      "cannot load the default kubeconfig: ENOENT",
    ],
  ];
  for (const command of ["controller", "webhook"]) {
    for (const [name, flags, env, message] of kubeconfigCases) {
      it(`${command}: ${name}`, async () => {
        const run = await runTrustgate([command, ...flags], { env: { ...process.env, HOME: dir, ...env } });
        expect(run.code).to.equal(2);
        const lines = stderrLines(run);
        expect(lines, run.stderr).to.have.length(1);
        expect(lines[0]).to.include(`trustgate ${command}: ${message}`);
      });
    }
  }

  it("agent: a --host-root that does not exist or is no host's root, before creating a key or asking the API", async () => {
    const empty = join(dir, "empty-root");
    mkdirSync(join(empty, "sys"), { recursive: true });
    const cases: [string, string][] = [
      ["/nonexistent", "--host-root /nonexistent is not a directory"],
      [join(dir, "bad.kubeconfig"), "is not a directory"],
      [empty, `--host-root ${empty} has no proc/: it is not a host's root`],
    ];
    for (const [root, message] of cases) {
      const keyFile = join(dir, "agent.jwk");
      const run = await runTrustgate([
        "agent",
        "--node-name",
        "n1",
        "--host-root",
        root,
        "--key-file",
        keyFile,
        "--once",
      ]);
      expect(run.code, root).to.equal(2);
      expect(stderrLines(run)).to.have.length(1);
      expect(run.stderr).to.include(message);
      expect(existsSync(keyFile)).to.equal(false);
    }
  });

  it("agent: a fixture host root passes the check (--print needs no cluster)", async () => {
    const root = join(REPO_ROOT, "operator/test/fixtures/hosts/tdx-8xh100");
    const run = await runTrustgate([
      "agent",
      "--node-name",
      "n1",
      "--host-root",
      root,
      "--key-file",
      join(dir, "fixture.jwk"),
      "--print",
      "--log-level",
      "silent",
    ]);
    expect(run.code, run.stderr).to.equal(0);
    expect((JSON.parse(run.stdout) as { tee: { type: string } }).tee.type).to.equal("tdx");
  });
});
