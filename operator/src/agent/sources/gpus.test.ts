import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { HostTree, writePciDevice } from "../../../test/support/builders/host-tree.ts";
import { defaultProviders, hostFixture, type HostFixture } from "../../../test/support/host-fixtures.ts";
import { HostRoot } from "../host-root.ts";
import { gpusSource } from "./gpus.ts";

const scan = (name: HostFixture, labels?: Record<string, string>) =>
  gpusSource.scan({ host: hostFixture(name), ccModeProviders: defaultProviders(undefined, labels) });

const CC_MANAGER_ON = {
  "nvidia.com/cc.mode": "on",
  "nvidia.com/cc.mode.state": "on",
  "nvidia.com/cc.ready.state": "true",
};

describe("gpus source", () => {
  it("finds the 8 H100 SXM5 on vfio-pci with viable IOMMU groups, CC on, and the 4 NVSwitches", async () => {
    const { facts, problems } = await scan("tdx-8xh100");
    expect(problems).to.deep.equal([]);
    expect(facts.ccModeSource).to.equal("file");
    expect(facts.gpus.map((g) => g.pciAddress)).to.deep.equal([
      "0000:18:00.0",
      "0000:2a:00.0",
      "0000:3a:00.0",
      "0000:5d:00.0",
      "0000:9a:00.0",
      "0000:ab:00.0",
      "0000:ba:00.0",
      "0000:db:00.0",
    ]);
    expect(facts.gpus[0]).to.deep.equal({
      pciAddress: "0000:18:00.0",
      vendorId: "0x10de",
      deviceId: "0x2330",
      model: "H100-SXM5-80GB",
      driver: "vfio-pci",
      iommuGroup: "20",
      ccMode: "on",
      vbiosVersion: "96.00.9F.00.01",
      iommuGroupViable: true,
    });
    expect(facts.nvswitches.map((s) => [s.pciAddress, s.deviceId, s.driver, s.ppcieMode])).to.deep.equal([
      ["0000:05:00.0", "0x22a3", "none", "unknown"],
      ["0000:06:00.0", "0x22a3", "none", "unknown"],
      ["0000:07:00.0", "0x22a3", "none", "unknown"],
      ["0000:08:00.0", "0x22a3", "none", "unknown"],
    ]);
  });

  it("takes every GPU's mode from k8s-cc-manager's Node labels when the host has no /etc/trustgate files", async () => {
    const { facts, problems } = await scan("tdx-8xh100-cc-labels", CC_MANAGER_ON);
    expect(problems).to.deep.equal([]);
    expect(facts.ccModeSource).to.equal("labels");
    expect(facts.gpus.map((g) => g.ccMode)).to.deep.equal(Array(8).fill("on"));
  });

  it("leaves every GPU unknown on that host without labels: nothing is guessed", async () => {
    const { facts, problems } = await scan("tdx-8xh100-cc-labels");
    expect(facts.ccModeSource).to.equal("none");
    expect(facts.gpus.every((g) => g.ccMode === "unknown")).to.equal(true);
    expect(problems).to.include("GPU 0000:18:00.0 CC mode unknown: no CC mode source answered");
  });

  it("reads a PPCIe board: 8 GPUs ppcie, 4 NVSwitches on vfio-pci in PPCIe mode", async () => {
    const { facts, problems } = await scan("hgx-ppcie");
    expect(problems).to.deep.equal([]);
    expect(facts.gpus.every((g) => g.ccMode === "ppcie")).to.equal(true);
    expect(facts.nvswitches.map((s) => [s.driver, s.ppcieMode, s.iommuGroupViable])).to.deep.equal(
      Array(4).fill(["vfio-pci", "on", true]),
    );
  });

  it("believes the CC manager's ppcie label for the GPUs and the switches alike", async () => {
    const { facts, problems } = await scan("hgx-ppcie", {
      "nvidia.com/cc.mode": "ppcie",
      "nvidia.com/cc.mode.state": "ppcie",
      "nvidia.com/cc.ready.state": "true",
    });
    expect(problems).to.deep.equal([]);
    expect(facts.ccModeSource).to.equal("labels");
    expect(facts.nvswitches.every((s) => s.ppcieMode === "on")).to.equal(true);
  });

  it("takes CC modes and VBIOS versions from the manual file on the SNP host", async () => {
    const { facts } = await scan("snp-genoa-4xh100");
    expect(facts.gpus.map((g) => [g.deviceId, g.model, g.ccMode, g.vbiosVersion])).to.deep.equal(
      Array(4).fill(["0x2331", "H100-PCIe-80GB", "on", "96.00.5E.00.03"]),
    );
    expect(facts.ccModeSource).to.equal("file");
  });

  it("reads GPUs on the NVIDIA driver with their VBIOS from procfs and reports the missing IOMMU groups", async () => {
    const { facts, problems } = await scan("iommu-off");
    expect(facts.gpus.map((g) => [g.driver, g.ccMode, g.vbiosVersion, g.iommuGroup])).to.deep.equal([
      ["nvidia", "on", "96.00.5E.00.03", undefined],
      ["nvidia", "on", "96.00.5E.00.03", undefined],
    ]);
    expect(problems).to.deep.equal([
      "GPU 0000:41:00.0 has no IOMMU group",
      "GPU 0000:c1:00.0 has no IOMMU group",
    ]);
  });

  it("ignores NVIDIA-less hosts' VGA controllers", async () => {
    expect((await scan("no-gpu")).facts).to.deep.equal({ gpus: [], nvswitches: [], ccModeSource: "none" });
  });

  it("keeps GPUs whose files are bad, as unknown, and names every problem", async () => {
    const { facts, problems } = await scan("garbage");
    expect(facts.gpus).to.deep.equal([
      {
        pciAddress: "0000:18:00.0",
        vendorId: "0x10de",
        deviceId: "0xffff",
        driver: "none",
        iommuGroup: "20",
        ccMode: "unknown",
        iommuGroupViable: true,
      },
      {
        pciAddress: "0000:2a:00.0",
        vendorId: "0x10de",
        deviceId: "0x2330",
        model: "H100-SXM5-80GB",
        driver: "vfio-pci",
        ccMode: "unknown",
      },
      {
        pciAddress: "0000:3a:00.0",
        vendorId: "0x10de",
        deviceId: "0x2330",
        model: "H100-SXM5-80GB",
        driver: "none",
        iommuGroup: "22",
        ccMode: "unknown",
        iommuGroupViable: true,
      },
    ]);
    expect(problems).to.include.members([
      "GPU 0000:18:00.0: /sys/bus/pci/devices/0000:18:00.0/device malformed: expected a 0x-prefixed hex number; reported as 0xffff",
      "GPU 0000:3a:00.0: /sys/bus/pci/devices/0000:3a:00.0/class unreadable: EISDIR",
      "GPU 0000:2a:00.0 has no IOMMU group",
      "/run/trustgate/cc-probe.json malformed: device 0000:2a:00.0: ccMode must be on, off, devtools or ppcie",
    ]);
    expect(problems.some((p) => p.startsWith("/etc/trustgate/cc-mode.json malformed"))).to.equal(true);
  });

  describe("IOMMU group viability", () => {
    let root: string;
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), "group-"));
    });
    afterEach(() => {
      rmSync(root, { recursive: true, force: true });
    });

    it("refuses a group shared with a device on a host driver or none, naming it; a bridge does not count", async () => {
      const tree = new HostTree(root);
      const gpu = { vendor: "0x10de", device: "0x2330", pciClass: "0x030200", driver: "vfio-pci" };
      writePciDevice(tree, { bdf: "0000:18:00.0", ...gpu, iommuGroup: 20 });
      writePciDevice(tree, {
        bdf: "0000:18:00.1",
        vendor: "0x15b3",
        device: "0x1021",
        pciClass: "0x020000",
        driver: "mlx5_core",
        iommuGroup: 20,
      });
      writePciDevice(tree, {
        bdf: "0000:17:00.0",
        vendor: "0x8086",
        device: "0x352a",
        pciClass: "0x060400",
        driver: "pcieport",
        iommuGroup: 20,
      });
      writePciDevice(tree, { bdf: "0000:2a:00.0", ...gpu, iommuGroup: 21 });
      writePciDevice(tree, {
        bdf: "0000:2a:00.1",
        vendor: "0x10de",
        device: "0x22a3",
        pciClass: "0x068000",
        iommuGroup: 21,
      });
      writePciDevice(tree, { bdf: "0000:3a:00.0", ...gpu, iommuGroup: 22 });
      writePciDevice(tree, {
        bdf: "0000:3a:00.1",
        vendor: "0x10de",
        device: "0x2330",
        pciClass: "0x030200",
        driver: "vfio-pci",
        iommuGroup: 22,
      });
      const { facts, problems } = await gpusSource.scan({ host: new HostRoot(root), ccModeProviders: [] });
      const byAddress = Object.fromEntries(facts.gpus.map((g) => [g.pciAddress, g]));
      expect(byAddress["0000:18:00.0"]).to.deep.include({
        iommuGroupViable: false,
        iommuGroupBlockers: ["0000:18:00.1 (mlx5_core)"],
      });
      expect(byAddress["0000:2a:00.0"]).to.deep.include({
        iommuGroupViable: false,
        iommuGroupBlockers: ["0000:2a:00.1 (none)"],
      });
      expect(byAddress["0000:3a:00.0"]?.iommuGroupViable).to.equal(true);
      expect(problems).to.include(
        "GPU 0000:18:00.0 IOMMU group 20 is not viable: 0000:18:00.1 (mlx5_core) not on vfio-pci",
      );
    });
  });
});
