import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect } from "chai";
import { format, resolveConfig } from "prettier";
import { hostFixtureDir, HOST_FIXTURES } from "../../test/support/host-fixtures.ts";
import type { ConfidentialHostStatus } from "../api/v1alpha1/generated/types.ts";
import { validateConfidentialHost } from "../api/v1alpha1/validation.ts";
import { runCli } from "../cli/main.ts";
import { commands } from "../cmd/commands.ts";
import { verifyHostReport } from "../host/verify-host-report.ts";

// `trustgate agent --once --print` for each fixture, against operator/test/fixtures/hosts/<case>/expected-status.json.
// UPDATE_GOLDEN=1 rewrites the expected files.
const NODE = "golden-node";
const update = process.env["UPDATE_GOLDEN"] === "1";

async function printStatus(hostRoot: string, keyFile: string): Promise<ConfidentialHostStatus> {
  let stdout = "";
  let stderr = "";
  const args = [
    "agent",
    "--once",
    "--print",
    "--host-root",
    hostRoot,
    "--node-name",
    NODE,
    "--key-file",
    keyFile,
    // No kubelet in a fixture tree; the PodResources path is tested in pod-resources/observe.test.ts.
    "--pod-resources-socket=",
  ];
  const code = await runCli(commands, [...args, "--log-level", "silent"], {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  });
  expect(code, stderr).to.equal(0);
  return JSON.parse(stdout) as ConfidentialHostStatus;
}

/** The status with what differs per run (time, version, key, signature) replaced by placeholders. */
function masked(status: ConfidentialHostStatus): unknown {
  return {
    ...status,
    observedAt: "<observedAt>",
    agentVersion: "<agentVersion>",
    report: { jws: "<jws>", keyId: "<keyId>", publicKey: "<publicKey>" },
  };
}

describe("trustgate agent --once --print", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "golden-"))));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const name of HOST_FIXTURES) {
    it(`prints the signed, schema-valid status of ${name} as expected`, async () => {
      const status = await printStatus(hostFixtureDir(name), join(dir, "agent-key.jwk"));
      const valid = validateConfidentialHost({
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialHost",
        metadata: { name: NODE },
        status,
      });
      expect(valid.ok ? [] : valid.errors).to.deep.equal([]);
      expect(await verifyHostReport(NODE, status)).to.deep.include({ ok: true });

      const expectedFile = join(hostFixtureDir(name), "expected-status.json");
      if (!update && !existsSync(expectedFile))
        expect.fail(`${expectedFile} missing: run with UPDATE_GOLDEN=1`);
      if (update) {
        const options = (await resolveConfig(expectedFile)) ?? {};
        writeFileSync(
          expectedFile,
          await format(JSON.stringify(masked(status)), { ...options, parser: "json" }),
        );
      }
      expect(masked(status)).to.deep.equal(JSON.parse(readFileSync(expectedFile, "utf8")));
    });
  }

  it("runs as a process with the command line integration tests use", async () => {
    const main = fileURLToPath(new URL("../cmd/main.ts", import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [
      main,
      "agent",
      "--once",
      "--print",
      "--host-root",
      hostFixtureDir("tdx-8xh100"),
      "--node-name",
      NODE,
      "--key-file",
      join(dir, "process-key.jwk"),
      "--log-level",
      "warn",
    ]);
    const status = JSON.parse(stdout) as ConfidentialHostStatus;
    expect(status.gpuSummary).to.deep.equal({
      total: 8,
      ccReady: 8,
      nvswitches: 4,
      mode: "on",
      ccModeSource: "file",
    });
    expect(await verifyHostReport(NODE, status)).to.deep.include({ ok: true });
  });
});
