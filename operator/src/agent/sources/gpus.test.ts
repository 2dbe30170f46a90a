import { expect } from "chai";
import { hostFixture, type HostFixture } from "../../../test/support/host-fixtures.ts";
import { ccModeProviders, type CcModeInputs } from "./cc-mode/default-providers.ts";
import { gpusSource } from "./gpus.ts";

const config: CcModeInputs = {
  ccModeStateFile: "/etc/trustgate/cc-mode.json",
  nvidiaToolsOutputDir: "/etc/trustgate/nvidia-tools",
  toolTimeoutMs: 1000,
};

const scan = (name: HostFixture, withProviders = true) =>
  gpusSource.scan({ host: hostFixture(name), ccModeProviders: withProviders ? ccModeProviders(config) : [] });

describe("gpus source", () => {
  it("finds the 8 H100 SXM5 on vfio-pci with IOMMU groups, CC on, and counts the NVSwitches", async () => {
    const { facts, details, problems } = await scan("tdx-8xh100");
    expect(problems).to.deep.equal([]);
    expect(facts.nvswitches).to.equal(4);
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
    });
    expect(facts.gpus.every((g) => g.ccMode === "on")).to.equal(true);
    expect(details).to.deep.equal({ nvswitches: "4", ccModeSources: "nvidia-tools-output=8" });
  });

  it("believes the tool output over an older state file for the GPU switched off", async () => {
    const { facts } = await scan("tdx-8xh100-gpu-cc-off");
    expect(facts.gpus.filter((g) => g.ccMode !== "on").map((g) => [g.pciAddress, g.ccMode])).to.deep.equal([
      ["0000:ab:00.0", "off"],
    ]);
  });

  it("takes CC modes and VBIOS versions from the state file on the SNP host", async () => {
    const { facts, details } = await scan("snp-genoa-4xh100");
    expect(facts.gpus.map((g) => [g.deviceId, g.model, g.ccMode, g.vbiosVersion])).to.deep.equal(
      Array(4).fill(["0x2331", "H100-PCIe-80GB", "on", "96.00.5E.00.03"]),
    );
    expect(details).to.deep.equal({ ccModeSources: "state-file=4" });
  });

  it("applies nvidia-smi's system-wide answer to GPUs on the NVIDIA driver and reads their VBIOS from procfs", async () => {
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

  it("never guesses a CC mode: with no provider every GPU is unknown", async () => {
    const { facts, problems } = await scan("tdx-8xh100", false);
    expect(facts.gpus.every((g) => g.ccMode === "unknown")).to.equal(true);
    expect(problems).to.include("GPU 0000:18:00.0 CC mode unknown: no provider answered");
  });

  it("ignores NVIDIA-less hosts' VGA controllers", async () => {
    expect((await scan("no-gpu")).facts).to.deep.equal({ gpus: [], nvswitches: 0 });
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
      },
    ]);
    expect(problems).to.include.members([
      "GPU 0000:18:00.0: /sys/bus/pci/devices/0000:18:00.0/device malformed: expected a 0x-prefixed hex number; reported as 0xffff",
      "GPU 0000:3a:00.0: /sys/bus/pci/devices/0000:3a:00.0/class unreadable: EISDIR",
      "GPU 0000:2a:00.0 CC mode: NVIDIA tool outputs disagree (off, on)",
      "GPU 0000:2a:00.0 has no IOMMU group",
    ]);
    expect(problems.some((p) => p.startsWith("/etc/trustgate/cc-mode.json malformed"))).to.equal(true);
  });
});
