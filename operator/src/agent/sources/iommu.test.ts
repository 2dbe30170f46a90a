import { expect } from "chai";
import { hostFixture } from "../../../test/support/host-fixtures.ts";
import { iommuSource } from "./iommu.ts";

const context = (name: Parameters<typeof hostFixture>[0]) => ({
  host: hostFixture(name),
  ccModeProviders: [],
});

describe("iommu source", () => {
  it("sees VT-d units, groups and vfio-pci on the TDX host", async () => {
    const output = await iommuSource.scan(context("tdx-8xh100"));
    expect(output.facts.iommu).to.deep.equal({ enabled: true, vfioLoaded: true, groups: 15 });
    expect(output.details).to.deep.equal({
      iommuUnits: "dmar0,dmar1,dmar2,dmar3,dmar4,dmar5,dmar6,dmar7",
      iommuCmdline: "intel_iommu=on iommu=pt",
    });
    expect(output.problems).to.deep.equal([]);
  });

  it("sees AMD-Vi units on the Genoa host", async () => {
    const output = await iommuSource.scan(context("snp-genoa-4xh100"));
    expect(output.facts.iommu).to.deep.equal({ enabled: true, vfioLoaded: true, groups: 6 });
    expect(output.details?.["iommuUnits"]).to.equal("ivhd0,ivhd1,ivhd2,ivhd3");
  });

  it("reports the IOMMU off when no units and groups exist", async () => {
    const output = await iommuSource.scan(context("iommu-off"));
    expect(output.facts.iommu).to.deep.equal({ enabled: false, vfioLoaded: false, groups: 0 });
    expect(output.details).to.deep.equal({ iommuUnits: "none", iommuCmdline: "intel_iommu=off" });
    expect(output.problems).to.deep.equal([]);
  });

  it("leaves out what it cannot tell and names why", async () => {
    const output = await iommuSource.scan(context("garbage"));
    expect(output.facts.iommu).to.deep.equal({ groups: 2 });
    expect(output.problems).to.have.members([
      "/sys/class/iommu malformed: not a directory",
      "/sys/kernel/iommu_groups has entries that are not group numbers",
      "/sys/module/vfio_pci malformed: dangling symlink",
    ]);
  });
});
