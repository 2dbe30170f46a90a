import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import {
  gpuAdminToolsOutput,
  HostTree,
  writePciDevice,
  type ToolDevice,
} from "../../../test/support/builders/host-tree.ts";
import { HGX_BOOT_ID } from "../../../test/support/host-fixtures.ts";
import { HostRoot } from "../host-root.ts";
import { ProbeFileProvider } from "../sources/cc-mode/probe-file-provider.ts";
import type { CommandRunner } from "./command-runner.ts";
import { runCcProbe } from "./probe.ts";
import { parseProbeState } from "./probe-state.ts";

const STATE = "/run/trustgate/cc-probe.json";
const T0 = new Date("2026-03-02T08:00:00Z");
const gpu = (bdf: string): ToolDevice => ({
  kind: "gpu",
  bdf,
  name: "H100",
  deviceId: "0x2330",
  bar0: "0x1",
});
const sw = (bdf: string): ToolDevice => ({
  kind: "nvswitch",
  bdf,
  name: "NVSwitch_gen3",
  deviceId: "0x22a3",
  bar0: "0x2",
});

describe("trustgate cc-probe", () => {
  let root: string;
  let tree: HostTree;
  let calls: string[];
  /** What the fake tool answers per BDF; a BDF missing here makes the tool fail like a missing python3. */
  let answers: Map<string, { cc?: string; ppcie?: string }>;
  let onRun: (bdf: string) => void;

  const runner: CommandRunner = (argv) => {
    const bdf = argv[argv.indexOf("--devices") + 1] ?? "";
    calls.push(argv.join(" "));
    onRun(bdf);
    if (bdf === "0000:3a:00.0")
      // What v2025.11.21o prints for a BDF it cannot find (seen running it).
      return Promise.resolve({
        exitCode: 1,
        stdout: "NVIDIA GPU Tools version v2025.11.21o\n",
        stderr: `2026-03-02,08:00:01.175 WARNING  No device found at BDF ${bdf}\n2026-03-02,08:00:01.175 ERROR    No devices found matching: ${bdf}\n`,
        error: "exit code 1",
      });
    const modes = answers.get(bdf);
    if (modes === undefined)
      return Promise.resolve({ exitCode: null, stdout: "", stderr: "", error: "ENOENT" });
    const kind = bdf.startsWith("0000:05") ? sw(bdf) : gpu(bdf);
    return Promise.resolve({ exitCode: 0, ...gpuAdminToolsOutput(kind, modes) });
  };
  const probe = (now = T0) =>
    runCcProbe({
      host: new HostRoot(root),
      stateFile: STATE,
      tool: ["python3", "-m", "nvidia_gpu_tools"],
      timeoutMs: 1000,
      runner,
      now: () => now,
    });
  const setEnable = (bdf: string, count: number) => {
    const bus = bdf.slice(5, 7);
    const parent = (Number.parseInt(bus, 16) - 1).toString(16).padStart(2, "0");
    writeFileSync(
      join(root, `sys/devices/pci0000:${parent}/0000:${parent}:01.0/${bdf}/enable`),
      `${count}\n`,
    );
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "cc-probe-"));
    tree = new HostTree(root).attr("proc/sys/kernel/random/boot_id", HGX_BOOT_ID);
    const h100 = { vendor: "0x10de", device: "0x2330", pciClass: "0x030200" };
    writePciDevice(tree, { bdf: "0000:18:00.0", ...h100, driver: "vfio-pci", iommuGroup: 20 });
    writePciDevice(tree, { bdf: "0000:2a:00.0", ...h100, driver: "vfio-pci", iommuGroup: 21, enable: 1 });
    writePciDevice(tree, { bdf: "0000:3a:00.0", ...h100, driver: "nvidia", iommuGroup: 22 });
    writePciDevice(tree, {
      bdf: "0000:05:00.0",
      vendor: "0x10de",
      device: "0x22a3",
      pciClass: "0x068000",
      driver: "vfio-pci",
      iommuGroup: 10,
    });
    calls = [];
    answers = new Map([
      ["0000:18:00.0", { cc: "off", ppcie: "on" }],
      ["0000:2a:00.0", { cc: "off", ppcie: "on" }],
      ["0000:05:00.0", { ppcie: "on" }],
    ]);
    onRun = () => undefined;
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("asks the tool only about devices no VM and no host driver holds, one at a time, and stamps the boot", async () => {
    const { state, summary } = await probe();
    expect(calls).to.deep.equal([
      "python3 -m nvidia_gpu_tools --devices 0000:18:00.0 --query-cc-mode --query-ppcie-mode",
      "python3 -m nvidia_gpu_tools --devices 0000:05:00.0 --query-ppcie-mode",
    ]);
    expect(state.bootId).to.equal(HGX_BOOT_ID);
    expect(state.tool).to.equal("python3 -m nvidia_gpu_tools (NVIDIA GPU Tools v2025.11.21o)");
    expect(state.devices).to.deep.equal({
      "0000:18:00.0": { kind: "gpu", ccMode: "ppcie", ppcieMode: "on", probedAt: "2026-03-02T08:00:00Z" },
      "0000:2a:00.0": {
        kind: "gpu",
        skipped: "in use: PCI enable count 1 (a VM or another VFIO user holds it)",
        at: "2026-03-02T08:00:00Z",
      },
      "0000:3a:00.0": { kind: "gpu", skipped: "bound to nvidia, which owns it", at: "2026-03-02T08:00:00Z" },
      "0000:05:00.0": { kind: "nvswitch", ppcieMode: "on", probedAt: "2026-03-02T08:00:00Z" },
    });
    expect(summary).to.include("GPU 0000:18:00.0: CC mode ppcie");
    const written = parseProbeState(readFileSync(join(root, STATE), "utf8"));
    expect(written.ok && written.value).to.deep.equal(state);
  });

  it("keeps a busy GPU's result from an earlier probe of this boot, with its original time", async () => {
    setEnable("0000:2a:00.0", 0);
    await probe();
    setEnable("0000:2a:00.0", 1);
    const { state } = await probe(new Date("2026-03-02T20:00:00Z"));
    expect(state.devices["0000:2a:00.0"]).to.deep.equal({
      kind: "gpu",
      ccMode: "ppcie",
      ppcieMode: "on",
      probedAt: "2026-03-02T08:00:00Z",
    });
    expect(state.devices["0000:18:00.0"]).to.deep.include({ probedAt: "2026-03-02T20:00:00Z" });
  });

  it("keeps nothing from another boot's file", async () => {
    setEnable("0000:2a:00.0", 0);
    await probe();
    tree.attr("proc/sys/kernel/random/boot_id", "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a");
    setEnable("0000:2a:00.0", 1);
    const { state } = await probe();
    expect(state.devices["0000:2a:00.0"]).to.have.property("skipped");
  });

  it("does not believe an answer for a device a VM took while the tool ran", async () => {
    onRun = (bdf) => {
      if (bdf === "0000:18:00.0") setEnable(bdf, 1);
    };
    const { state } = await probe();
    expect(state.devices["0000:18:00.0"]).to.deep.equal({
      kind: "gpu",
      skipped: "became busy while probed (in use: PCI enable count 1 (a VM or another VFIO user holds it))",
      at: "2026-03-02T08:00:00Z",
    });
  });

  it("records a tool that cannot run as a reason, and the agent then has no answer for that GPU", async () => {
    answers.delete("0000:18:00.0");
    const { state } = await probe();
    expect(state.devices["0000:18:00.0"]).to.deep.equal({
      kind: "gpu",
      skipped: "no CC mode line in the tool's output (tool: ENOENT)",
      at: "2026-03-02T08:00:00Z",
    });
  });

  it("records the tool's own error when it exits non-zero", async () => {
    // 3a:00.0 unbound and idle, but the tool cannot find it.
    rmSync(join(root, "sys/devices/pci0000:39/0000:39:01.0/0000:3a:00.0/driver"));
    setEnable("0000:3a:00.0", 0);
    answers.set("0000:3a:00.0", { cc: "on" });
    const { state } = await probe();
    expect(state.devices["0000:3a:00.0"]).to.deep.equal({
      kind: "gpu",
      skipped:
        "no CC mode line in the tool's output (tool: exit code 1, No devices found matching: 0000:3a:00.0)",
      at: "2026-03-02T08:00:00Z",
    });
  });

  it("writes a file the unprivileged agent accepts in this boot", async () => {
    await probe();
    const report = await new ProbeFileProvider({ now: new Date("2026-03-02T09:00:00Z") }).query(
      [
        { pciAddress: "0000:18:00.0", kind: "gpu", driver: "vfio-pci" },
        { pciAddress: "0000:05:00.0", kind: "nvswitch", driver: "vfio-pci" },
      ],
      new HostRoot(root),
    );
    expect(report.problems).to.deep.equal([]);
    expect(report.gpus.get("0000:18:00.0")).to.deep.equal({ mode: "ppcie" });
    expect(report.nvswitches.get("0000:05:00.0")).to.equal("on");
  });

  it("fails without writing when this boot's ID cannot be read", async () => {
    rmSync(join(root, "proc"), { recursive: true });
    let error: unknown;
    await probe().catch((e: unknown) => (error = e));
    expect((error as Error).message).to.equal(
      "cannot read this boot's ID: /proc/sys/kernel/random/boot_id missing",
    );
    expect(calls).to.deep.equal([]);
  });
});
