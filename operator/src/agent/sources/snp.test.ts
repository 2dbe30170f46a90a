import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { HostTree } from "../../../test/support/builders/host-tree.ts";
import { hostFixture } from "../../../test/support/host-fixtures.ts";
import { HostRoot } from "../host-root.ts";
import { snpSource } from "./snp.ts";

const context = (name: Parameters<typeof hostFixture>[0]) => ({
  host: hostFixture(name),
  ccModeProviders: [],
});

describe("snp source", () => {
  it("reads an enabled SEV-SNP with ASID counts and no firmware version (the attestation report carries it)", async () => {
    expect(await snpSource.scan(context("snp-genoa-4xh100"))).to.deep.equal({
      facts: { state: "enabled" },
      details: {
        kvmAmdSevSnp: "Y",
        kvmAmdSev: "Y",
        kvmAmdSevEs: "Y",
        sevAsids: "410",
        sevEsAsids: "596",
      },
      problems: [],
    });
  });

  it("reports SEV-SNP absent on Intel hosts and unknown for a garbage parameter", async () => {
    expect((await snpSource.scan(context("tdx-8xh100"))).facts).to.deep.equal({ state: "absent" });
    const garbage = await snpSource.scan(context("garbage"));
    expect(garbage.facts).to.deep.equal({ state: "unknown" });
    expect(garbage.problems).to.have.length(1);
  });

  describe("on hand-made hosts", () => {
    let root: string;
    let tree: HostTree;
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), "snp-"));
      tree = new HostTree(root)
        .attr("sys/module/kvm_amd/parameters/sev_snp", "1")
        .attr("sys/module/kvm_amd/parameters/sev", "1")
        .attr("sys/module/kvm_amd/parameters/sev_es", "1");
    });
    afterEach(() => {
      rmSync(root, { recursive: true, force: true });
    });
    const scan = () => snpSource.scan({ host: new HostRoot(root), ccModeProviders: [] });

    it("accepts the older 1/0 parameters and ignores a hand-written firmware version file", async () => {
      tree
        .file("sys/fs/cgroup/misc.capacity", "sev 509\nsev_es 10\n")
        .attr("etc/trustgate/snp-firmware-version", "9.99.99");
      const output = await scan();
      expect(output.facts).to.deep.equal({ state: "enabled" });
      expect(output.problems).to.deep.equal([]);
    });

    it("does not count SEV-SNP as enabled without SEV-ES ASIDs", async () => {
      tree.file("sys/fs/cgroup/misc.capacity", "sev 509\nsev_es 0\n");
      const output = await scan();
      expect(output.facts.state).to.equal("disabled");
      expect(output.problems).to.deep.equal([
        "SEV-SNP is enabled in KVM but the platform has 0 SEV-ES/SNP ASIDs",
      ]);
    });

    it("reads PSP firmware versions from the ccp device where the kernel shows them", async () => {
      tree
        .file("sys/fs/cgroup/misc.capacity", "sev 509\nsev_es 10\n")
        .attr("sys/devices/pci0000:00/0000:00:08.1/0000:03:00.2/tee_version", "0.2b.00.8f")
        .link("sys/bus/pci/drivers/ccp/0000:03:00.2", "sys/devices/pci0000:00/0000:00:08.1/0000:03:00.2");
      expect((await scan()).details).to.include({ pspTeeVersion: "0.2b.00.8f" });
    });
  });
});
