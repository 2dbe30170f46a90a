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
      ccModeStateFile: "/etc/trustgate/cc-mode.json",
      nvidiaToolsOutputDir: "/etc/trustgate/nvidia-tools",
      toolTimeoutMs: 30_000,
    });
  });

  it("takes flags over the environment and splits tool commands into words", () => {
    const config = agentConfigFromArgs(
      args({
        "node-name": "n2",
        interval: "5s",
        "max-report-age": "2m",
        "nvidia-gpu-tools": "python3 /opt/gpu-admin-tools/nvidia_gpu_tools.py --mmio-access-type=sysfs",
        "nvidia-smi": "nvidia-smi",
      }),
      { NODE_NAME: "ignored" },
    );
    expect(config).to.deep.include({ nodeName: "n2", intervalMs: 5000, maxReportAgeMs: 120_000 });
    expect(config.nvidiaGpuToolsCommand).to.deep.equal([
      "python3",
      "/opt/gpu-admin-tools/nvidia_gpu_tools.py",
      "--mmio-access-type=sysfs",
    ]);
    expect(config.nvidiaSmiCommand).to.deep.equal(["nvidia-smi"]);
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
