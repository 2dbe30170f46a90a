import { expect } from "chai";
import { nvidiaGpuToolsOutput } from "../../../../test/support/builders/host-tree.ts";
import { gpuModeFrom, parseToolOutput, systemModeFrom } from "./nvidia-tool-output.ts";

describe("NVIDIA tool output", () => {
  it("reads nvidia_gpu_tools' CC mode line for the GPU it names", () => {
    const findings = parseToolOutput(
      nvidiaGpuToolsOutput("0000:45:00.0", "H100-SXM", "0x2330", "0x1", "devtools"),
    );
    expect([...findings.perGpu]).to.deep.equal([["0000:45:00.0", { cc: "devtools" }]]);
    expect(findings.systemCc).to.equal(undefined);
  });

  it("does not take the 'has CC mode' warning or a pending 'set to' line for the current mode", () => {
    const text = [
      "2024-07-02,10:15:02.131 WARNING  GPU 0000:45:00.0 H100-SXM 0x2330 BAR0 0x1 has CC mode on, some functionality may not work",
      "2024-07-02,10:15:03.000 INFO     GPU 0000:45:00.0 H100-SXM 0x2330 BAR0 0x1 CC mode set to off. It will be active after GPU reset.",
    ].join("\n");
    expect(parseToolOutput(text).perGpu.size).to.equal(0);
  });

  it("reads protected PCIe mode and prefers CC on over it", () => {
    const findings = parseToolOutput(
      "INFO GPU 0000:45:00.0 H100-SXM 0x2330 BAR0 0x1 CC mode is off\nINFO GPU 0000:45:00.0 H100-SXM 0x2330 BAR0 0x1 PPCIe mode is on\n",
    );
    const lines = findings.perGpu.get("0000:45:00.0") ?? {};
    expect(gpuModeFrom(lines)).to.equal("ppcie");
    expect(gpuModeFrom({ cc: "on", ppcie: "on" })).to.equal("on");
    expect(gpuModeFrom({ ppcie: "off" })).to.equal(undefined);
  });

  it("reads nvidia-smi conf-compute's system-wide status and DevTools mode", () => {
    expect(systemModeFrom(parseToolOutput("CC status: ON\n"))).to.equal("on");
    expect(systemModeFrom(parseToolOutput("CC status: ON\nDevTools Mode: ON\n"))).to.equal("devtools");
    expect(systemModeFrom(parseToolOutput("CC status: OFF\n"))).to.equal("off");
    expect(systemModeFrom(parseToolOutput("No devices were found\n"))).to.equal(undefined);
  });
});
