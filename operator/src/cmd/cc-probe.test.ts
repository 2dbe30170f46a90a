import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { HostTree, writePciDevice } from "../../test/support/builders/host-tree.ts";
import { HGX_BOOT_ID } from "../../test/support/host-fixtures.ts";
import type { ParsedArgs } from "../cli/command.ts";
import { ccProbeConfigFromArgs, makeCcProbeCommand } from "./cc-probe.ts";

const args = (values: ParsedArgs["values"]): ParsedArgs => ({ values, positionals: [] });

describe("trustgate cc-probe command", () => {
  it("defaults to the host's / as seen by the init container, python3 -m nvidia_gpu_tools and /run/trustgate", () => {
    expect(ccProbeConfigFromArgs(args({}))).to.deep.equal({
      hostRoot: "/",
      stateFile: "/run/trustgate/cc-probe.json",
      tool: ["python3", "-m", "nvidia_gpu_tools"],
      timeoutMs: 60_000,
    });
    expect(
      ccProbeConfigFromArgs(args({ tool: " /opt/gat/bin/python3  -m nvidia_gpu_tools " })).tool,
    ).to.deep.equal(["/opt/gat/bin/python3", "-m", "nvidia_gpu_tools"]);
    expect(() => ccProbeConfigFromArgs(args({ "state-file": "run/x.json" }))).to.throw(/absolute host path/);
  });

  it("prints what it found per device and exits 0; exits 1 naming the cause when it cannot write", async () => {
    const root = mkdtempSync(join(tmpdir(), "cc-probe-cmd-"));
    try {
      const tree = new HostTree(root).attr("proc/sys/kernel/random/boot_id", HGX_BOOT_ID);
      writePciDevice(tree, {
        bdf: "0000:18:00.0",
        vendor: "0x10de",
        device: "0x2330",
        pciClass: "0x030200",
        driver: "vfio-pci",
        iommuGroup: 20,
        enable: 1,
      });
      const command = makeCcProbeCommand(
        () => Promise.reject(new Error("no device is free, the tool must not run")),
        () => new Date("2026-03-02T08:00:00Z"),
      );
      let stdout = "";
      const io = { stdout: (t: string) => (stdout += t), stderr: () => undefined };
      expect(await command.run(args({ "host-root": root }), io)).to.equal(0);
      expect(stdout).to.equal(
        `GPU 0000:18:00.0: skipped, in use: PCI enable count 1 (a VM or another VFIO user holds it)\nwrote /run/trustgate/cc-probe.json: 1 devices, boot ${HGX_BOOT_ID}\n`,
      );
      tree.file("blocked", "a file where the state directory should be\n");
      let stderr = "";
      const code = await command.run(args({ "host-root": root, "state-file": "/blocked/cc-probe.json" }), {
        stdout: () => undefined,
        stderr: (t) => (stderr += t),
      });
      expect(code).to.equal(1);
      expect(stderr).to.match(/^trustgate cc-probe: EEXIST|^trustgate cc-probe: ENOTDIR/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
