import { expect } from "chai";
import { hostFixture } from "../../../test/support/host-fixtures.ts";
import { parseCpuInfo, platformSource } from "./platform.ts";

const context = (name: Parameters<typeof hostFixture>[0]) => ({
  host: hostFixture(name),
  ccModeProviders: [],
});

describe("platform source", () => {
  it("reads DMI, CPU and kernel of the Supermicro TDX host", async () => {
    const { facts, details, problems } = await platformSource.scan(context("tdx-8xh100"));
    expect(problems).to.deep.equal([]);
    expect(facts.platform).to.deep.equal({
      cpuVendor: "intel",
      cpuModel: "Intel(R) Xeon(R) Platinum 8480+",
      microcode: "0x2b000603",
      biosVendor: "American Megatrends International, LLC.",
      biosVersion: "2.1",
      biosDate: "06/14/2024",
      boardVendor: "Supermicro",
      boardProduct: "X13DEG-OAD",
      systemProduct: "SYS-821GE-TNHR",
      kernelRelease: "6.18.2-061802-generic",
    });
    expect(details).to.deep.equal({
      systemVendor: "Supermicro",
      kernelCmdline: "intel_iommu=on iommu=pt kvm_intel.tdx=1 nohibernate vfio-pci.ids=10de:2330",
    });
  });

  it("reads the AMD host's vendor and microcode", async () => {
    const { facts } = await platformSource.scan(context("snp-genoa-4xh100"));
    expect(facts.platform).to.include({
      cpuVendor: "amd",
      microcode: "0xa101148",
      systemProduct: "AS -4125GS-TNRT",
    });
  });

  it("makes every bad file unknown and names it", async () => {
    const { facts, problems } = await platformSource.scan(context("garbage"));
    expect(facts.platform).to.deep.equal({
      cpuVendor: "unknown",
      cpuModel: "unknown",
      microcode: "unknown",
      biosVendor: "American Megatrends International, LLC.",
      biosVersion: "unknown",
      biosDate: "unknown",
      boardVendor: "unknown",
      boardProduct: "unknown",
      systemProduct: "unknown",
      kernelRelease: "unknown",
    });
    expect(problems).to.include.members([
      "/sys/class/dmi/id/bios_version unreadable: EISDIR",
      "/sys/class/dmi/id/bios_date unreadable: ELOOP",
      "/sys/class/dmi/id/board_name missing",
      "/sys/class/dmi/id/product_name malformed: not UTF-8 text",
      "/sys/class/dmi/id/sys_vendor malformed: longer than 256 characters",
      '/proc/cpuinfo vendor_id "GenuineIotel" unknown',
      "/proc/cpuinfo has no microcode revision",
      "/proc/cmdline missing",
    ]);
  });

  it("refuses to name a microcode revision when CPUs disagree", () => {
    const problems: string[] = [];
    const cpu = parseCpuInfo(
      "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: X\nmicrocode\t: 0x2b000603\n\nprocessor\t: 1\nmicrocode\t: 0x2b000590\n",
      problems,
    );
    expect(cpu).to.deep.equal({ vendor: "intel", model: "X", microcode: "unknown" });
    expect(problems).to.deep.equal(["/proc/cpuinfo microcode differs between CPUs: 0x2b000590, 0x2b000603"]);
  });
});
