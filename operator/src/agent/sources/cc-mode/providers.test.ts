import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { HostTree, nvidiaGpuToolsOutput } from "../../../../test/support/builders/host-tree.ts";
import { HostRoot } from "../../host-root.ts";
import type { CommandRunner } from "./command-runner.ts";
import { NvidiaToolsProvider } from "./nvidia-tools-provider.ts";
import { resolveCcModes, type GpuRef } from "./provider.ts";
import { StateFileProvider } from "./state-file-provider.ts";

const vfioGpu: GpuRef = { pciAddress: "0000:45:00.0", deviceId: "0x2330", driver: "vfio-pci" };
const nvidiaGpu: GpuRef = { pciAddress: "0000:46:00.0", deviceId: "0x2330", driver: "nvidia" };

describe("CC mode providers", () => {
  let root: string;
  let tree: HostTree;
  let host: HostRoot;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "cc-mode-"));
    tree = new HostTree(root);
    host = new HostRoot(root);
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  describe("state file", () => {
    it("answers for the GPUs it names and checks what it says", async () => {
      tree.file(
        "etc/trustgate/cc-mode.json",
        JSON.stringify({
          gpus: {
            "0000:45:00.0": { ccMode: "ppcie", vbiosVersion: "96.00.9f.00.01" },
            "0000:46:00.0": { ccMode: "sure" },
            "45:00.0": { ccMode: "on" },
          },
        }),
      );
      const report = await new StateFileProvider().query([vfioGpu, nvidiaGpu], host);
      expect([...report.answers]).to.deep.equal([
        ["0000:45:00.0", { mode: "ppcie", source: "state-file", vbiosVersion: "96.00.9F.00.01" }],
      ]);
      expect(report.problems).to.deep.equal([
        "/etc/trustgate/cc-mode.json malformed: GPU 0000:46:00.0 ccMode must be one of on, off, devtools, ppcie",
        '/etc/trustgate/cc-mode.json malformed: "45:00.0" is not a PCI address',
      ]);
    });

    it("is silent when the file does not exist", async () => {
      expect(await new StateFileProvider().query([vfioGpu], host)).to.deep.equal({
        answers: new Map(),
        problems: [],
      });
    });
  });

  describe("NVIDIA tools", () => {
    it("runs nvidia_gpu_tools for GPUs off the NVIDIA driver and nvidia-smi for the others; live beats saved", async () => {
      tree.file(
        "etc/trustgate/nvidia-tools/old.txt",
        nvidiaGpuToolsOutput(vfioGpu.pciAddress, "H100-SXM", "0x2330", "0x1", "off"),
      );
      const calls: string[] = [];
      const runner: CommandRunner = (argv) => {
        calls.push(argv.join(" "));
        if (argv[0] === "gpu-tools")
          return Promise.resolve({
            exitCode: 0,
            stdout: "",
            stderr: nvidiaGpuToolsOutput(vfioGpu.pciAddress, "H100-SXM", "0x2330", "0x1", "on"),
          });
        return Promise.resolve({
          exitCode: 0,
          stdout: argv.includes("-f") ? "CC status: ON\n" : "DevTools Mode: OFF\n",
          stderr: "",
        });
      };
      const provider = new NvidiaToolsProvider({
        gpuToolsCommand: ["gpu-tools"],
        nvidiaSmiCommand: ["smi"],
        runner,
      });
      const report = await provider.query([vfioGpu, nvidiaGpu], host);
      expect(calls).to.deep.equal([
        "gpu-tools --gpu-bdf=0000:45:00.0 --query-cc-mode",
        "smi conf-compute -f",
        "smi conf-compute -d",
      ]);
      expect([...report.answers]).to.deep.equal([
        ["0000:45:00.0", { mode: "on", source: "nvidia_gpu_tools" }],
        ["0000:46:00.0", { mode: "on", source: "nvidia-smi" }],
      ]);
      expect(report.problems).to.deep.equal([]);
    });

    it("reports a tool that fails and answers nothing for its GPU", async () => {
      const runner: CommandRunner = () =>
        Promise.resolve({ exitCode: null, stdout: "", stderr: "", error: "ENOENT" });
      const report = await new NvidiaToolsProvider({ gpuToolsCommand: ["missing"], runner }).query(
        [vfioGpu],
        host,
      );
      expect(report.answers.size).to.equal(0);
      expect(report.problems).to.deep.equal(["nvidia_gpu_tools for GPU 0000:45:00.0 failed: ENOENT"]);
    });
  });

  it("resolves each GPU to the first provider's answer and to unknown when none answers", async () => {
    tree.file("etc/trustgate/cc-mode.json", JSON.stringify({ gpus: { "0000:45:00.0": { ccMode: "on" } } }));
    tree.file(
      "etc/trustgate/nvidia-tools/a.txt",
      nvidiaGpuToolsOutput(vfioGpu.pciAddress, "H100-SXM", "0x2330", "0x1", "devtools"),
    );
    const { modes, problems } = await resolveCcModes(
      [new NvidiaToolsProvider(), new StateFileProvider()],
      [vfioGpu, nvidiaGpu],
      host,
    );
    expect(modes.get(vfioGpu.pciAddress)).to.deep.equal({ mode: "devtools", source: "nvidia-tools-output" });
    expect(modes.get(nvidiaGpu.pciAddress)).to.deep.equal({ mode: "unknown" });
    expect(problems).to.deep.equal(["GPU 0000:46:00.0 CC mode unknown: no provider answered"]);
  });
});
