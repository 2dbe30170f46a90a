import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { HostTree } from "../../../test/support/builders/host-tree.ts";
import { hostFixture } from "../../../test/support/host-fixtures.ts";
import { HostRoot } from "../host-root.ts";
import { tdxSource } from "./tdx.ts";

const context = (name: Parameters<typeof hostFixture>[0]) => ({
  host: hostFixture(name),
  ccModeProviders: [],
});

describe("tdx source", () => {
  it("reads an enabled TDX with its module version from the tdx_host device", async () => {
    const output = await tdxSource.scan(context("tdx-8xh100"));
    expect(output).to.deep.equal({
      facts: { state: "enabled", version: "1.5.06" },
      details: { kvmIntelTdx: "Y", seamldrVersion: "1.5.02", tdxKeys: "63" },
      problems: [],
    });
  });

  it("reads the legacy /sys/firmware/tdx module attributes", async () => {
    const output = await tdxSource.scan(context("iommu-off"));
    expect(output.facts).to.deep.equal({ state: "enabled", version: "1.5" });
    expect(output.details).to.deep.include({
      tdxModuleStatus: "initialized",
      tdxModuleBuild: "744",
      tdxModuleBuildDate: "20240407",
      tdxModuleAttributes: "0x0",
    });
    expect(output.problems).to.deep.equal([]);
  });

  it("reports TDX disabled when KVM has it off", async () => {
    const output = await tdxSource.scan(context("tdx-disabled"));
    expect(output.facts).to.deep.equal({ state: "disabled" });
    expect(output.problems).to.deep.equal([]);
  });

  it("reports TDX absent when the kernel's KVM has no TDX support, and on AMD hosts", async () => {
    expect((await tdxSource.scan(context("no-gpu"))).facts).to.deep.equal({ state: "absent" });
    expect((await tdxSource.scan(context("no-gpu"))).details).to.deep.equal({ kvmIntelTdx: "unsupported" });
    expect((await tdxSource.scan(context("snp-genoa-4xh100"))).facts).to.deep.equal({ state: "absent" });
  });

  it("reports unknown, not disabled, when the parameter is garbage", async () => {
    const output = await tdxSource.scan(context("garbage"));
    expect(output.facts).to.deep.equal({ state: "unknown" });
    expect(output.problems[0]).to.match(/^\/sys\/module\/kvm_intel\/parameters\/tdx malformed/);
  });

  describe("on hand-made hosts", () => {
    let root: string;
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), "tdx-"));
      new HostTree(root).attr("sys/module/kvm_intel/parameters/tdx", "Y");
    });
    afterEach(() => {
      rmSync(root, { recursive: true, force: true });
    });
    const scan = () => tdxSource.scan({ host: new HostRoot(root), ccModeProviders: [] });

    it("says unknown for a module version the kernel does not expose", async () => {
      new HostTree(root).attr("sys/fs/cgroup/misc.capacity", "tdx 31");
      const output = await scan();
      expect(output.facts).to.deep.equal({ state: "enabled", version: "unknown" });
      expect(output.problems).to.deep.equal([
        "TDX module version not exposed by this kernel (/sys/devices/faux/tdx_host/version, /sys/firmware/tdx/tdx_module)",
      ]);
    });

    it("does not count TDX as enabled without KeyIDs or with a module that is not initialized", async () => {
      new HostTree(root)
        .attr("sys/fs/cgroup/misc.capacity", "tdx 0")
        .attr("sys/firmware/tdx/tdx_module/status", "shutdown")
        .attr("sys/firmware/tdx/tdx_module/major_version", "0x1")
        .attr("sys/firmware/tdx/tdx_module/minor_version", "0x5");
      const output = await scan();
      expect(output.facts.state).to.equal("disabled");
      expect(output.problems).to.include.members([
        "TDX is enabled in KVM but the platform has 0 TDX KeyIDs",
        "TDX module status is shutdown, not initialized",
      ]);
    });

    it("reads the root-only seamldr_version where it is readable and only notes it where it is not", async () => {
      new HostTree(root)
        .attr("sys/fs/cgroup/misc.capacity", "tdx 31")
        .attr("sys/devices/faux/tdx_host/version", "1.5.06")
        .attr("sys/devices/faux/tdx_host/seamldr_version", "1.5.02");
      expect((await scan()).details).to.include({ seamldrVersion: "1.5.02" });
      rmSync(join(root, "sys/devices/faux/tdx_host/seamldr_version"));
      const hidden = await scan();
      expect(hidden.details, "hidden where the CPU cannot update the module at runtime").to.not.have.property(
        "seamldrVersion",
      );
      expect(hidden.problems).to.deep.equal([]);
      // Unreadable (EACCES for a non-root agent; a directory here, as tests run as root).
      new HostTree(root).file("sys/devices/faux/tdx_host/seamldr_version/x", "");
      const unreadable = await scan();
      expect(unreadable.details).to.include({ seamldrVersion: "unreadable (EISDIR)" });
      expect(unreadable.problems).to.deep.equal([]);
      expect(unreadable.facts).to.deep.equal({ state: "enabled", version: "1.5.06" });
    });

    it("flags a debug TDX module", async () => {
      new HostTree(root)
        .attr("sys/fs/cgroup/misc.capacity", "tdx 31")
        .attr("sys/firmware/tdx/tdx_module/attributes", "0x80000000")
        .attr("sys/firmware/tdx/tdx_module/major_version", "0x1")
        .attr("sys/firmware/tdx/tdx_module/minor_version", "0x5");
      const output = await scan();
      expect(output.details).to.include({ tdxModuleDebug: "true" });
      expect(output.problems).to.deep.equal(["TDX module is a debug build (attributes bit 31)"]);
    });
  });
});
