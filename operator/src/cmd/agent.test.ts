import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import type { ParsedArgs } from "../cli/command.ts";
import { agentConfigFromArgs } from "./agent.ts";

const args = (values: ParsedArgs["values"]): ParsedArgs => ({ values, positionals: [] });

describe("trustgate agent flags", () => {
  it("defaults to /host, the node from NODE_NAME, a 60 s interval and a 10-interval report age", () => {
    expect(agentConfigFromArgs(args({}), { NODE_NAME: "gpu-node-1" })).to.deep.equal({
      hostRoot: "/host",
      nodeName: "gpu-node-1",
      keyFile: "/var/lib/trustgate/agent-key.jwk",
      intervalMs: 60_000,
      maxReportAgeMs: 600_000,
      ccModeSource: "auto",
      ccModeStateFile: "/etc/trustgate/cc-mode.json",
      ccProbeStateFile: "/run/trustgate/cc-probe.json",
      ccProbeMaxAgeMs: 86_400_000,
    });
  });

  it("takes flags over the environment, and a CC mode source and probe age", () => {
    const config = agentConfigFromArgs(
      args({
        "node-name": "n2",
        interval: "5s",
        "max-report-age": "2m",
        "cc-mode-source": "labels",
        "cc-probe-max-age": "6h",
      }),
      { NODE_NAME: "ignored" },
    );
    expect(config).to.deep.include({
      nodeName: "n2",
      intervalMs: 5000,
      maxReportAgeMs: 120_000,
      ccModeSource: "labels",
      ccProbeMaxAgeMs: 6 * 3_600_000,
    });
  });

  it("refuses an unknown CC mode source and the removed tool-runner flags", async () => {
    expect(() =>
      agentConfigFromArgs(args({ "node-name": "n", "cc-mode-source": "nvidia-smi" }), {}),
    ).to.throw(/--cc-mode-source must be one of auto, labels, probe-file, file, got "nvidia-smi"/);
    const { runCli } = await import("../cli/main.ts");
    const { commands } = await import("./commands.ts");
    let stderr = "";
    const code = await runCli(commands, ["agent", "--nvidia-smi", "nvidia-smi"], {
      stdout: () => undefined,
      stderr: (text) => (stderr += text),
    });
    expect(code).to.equal(2);
    expect(stderr).to.match(/Unknown option '--nvidia-smi'/);
  });

  it("refuses a missing node name, a bad node name and a bad duration", () => {
    expect(() => agentConfigFromArgs(args({}), {})).to.throw(/--node-name \(or NODE_NAME\) is required/);
    expect(() => agentConfigFromArgs(args({ "node-name": "Bad_Name" }), {})).to.throw(
      /not a valid Node name/,
    );
    expect(() => agentConfigFromArgs(args({ "node-name": "n", interval: "soon" }), {})).to.throw(
      /--interval/,
    );
  });
});

describe("trustgate agent --metrics-bind-address", () => {
  it("refuses an address that is not host:port before anything starts (usage error, exit 2)", async () => {
    const { runCli } = await import("../cli/main.ts");
    const { commands } = await import("./commands.ts");
    let stderr = "";
    const code = await runCli(
      commands,
      ["agent", "--node-name", "n", "--host-root", "/nonexistent", "--metrics-bind-address", "8080"],
      { stdout: () => undefined, stderr: (text) => (stderr += text) },
    );
    expect(code).to.equal(2);
    expect(stderr).to.include('trustgate agent: --metrics-bind-address: invalid bind address "8080"');
  });
});

describe("trustgate agent dependencies", () => {
  it("loads no @kubernetes/client-node: the agent has its own small client to stay within its memory budget", async function () {
    this.timeout(20_000);
    // Prints every npm package the agent command's module graph resolves.
    const hooks = String.raw`import { registerHooks } from "node:module";
registerHooks({ resolve(specifier, context, next) {
  const resolved = next(specifier, context);
  const found = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url);
  if (found) process.stdout.write(found[1] + "\n");
  return resolved;
} });`;
    const { stdout } = await promisify(execFile)(process.execPath, [
      "--import",
      `data:text/javascript,${encodeURIComponent(hooks)}`,
      "--input-type=module",
      "--eval",
      `await import(${JSON.stringify(new URL("./agent.ts", import.meta.url).href)});`,
    ]);
    const packages = new Set(stdout.split("\n").filter((line) => line !== ""));
    expect([...packages]).to.include("pino");
    expect([...packages]).to.not.include("@kubernetes/client-node");
  });
});
