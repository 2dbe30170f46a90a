import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { aConfidentialVM } from "../../test/support/builders/confidential-vm.ts";
import { REPO_ROOT } from "../../test/support/samples.ts";
import { buildVirtualMachine } from "./virtual-machine.ts";

const GOLDEN_DIR = join(REPO_ROOT, "operator/test/golden");
const H100 = "H100-SXM5-80GB";
const gpus = (count: number, bus = 0x18) =>
  Array.from({ length: count }, (_, i) => ({
    pciAddress: `0000:${(bus + i * 0x10).toString(16)}:00.0`,
    model: H100,
  }));

const cases = [
  {
    file: "vm-tdx-8xh100.yaml",
    cvm: aConfidentialVM(
      { tee: "tdx", gpus: { count: 8, model: H100 }, resources: { cpu: 64, memory: "512Gi" } },
      "llm-70b",
    ),
    gpus: gpus(8),
  },
  {
    file: "vm-snp-4xh100.yaml",
    cvm: aConfidentialVM(
      { tee: "snp", gpus: { count: 4 }, resources: { cpu: 32, memory: "256Gi" } },
      "fine-tune",
    ),
    gpus: gpus(4, 0x41),
  },
  {
    file: "vm-tdx-ppcie-board.yaml",
    cvm: aConfidentialVM(
      { tee: "tdx", gpus: { mode: "ppcie", model: H100 }, resources: { cpu: 96, memory: "1536Gi" } },
      "hgx-board",
    ),
    gpus: gpus(8),
    nvswitches: ["05", "06", "07", "08"].map((bus) => ({ pciAddress: `0000:${bus}:00.0` })),
  },
  {
    file: "vm-tdx-no-gpu.yaml",
    cvm: aConfidentialVM({ tee: "tdx", gpus: { count: 0 }, runStrategy: "RerunOnFailure" }, "cpu-only"),
    gpus: [],
  },
];

describe("VirtualMachine rendering (golden YAML; UPDATE_GOLDEN=1 rewrites)", () => {
  for (const c of cases) {
    it(`renders ${c.file}`, () => {
      const placement = {
        nodeName: "gpu-node-1",
        gpus: c.gpus,
        ...("nvswitches" in c ? { nvswitches: c.nvswitches } : {}),
      };
      const rendered = stringify(buildVirtualMachine(c.cvm, placement));
      const path = join(GOLDEN_DIR, c.file);
      if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(path, rendered);
      expect(rendered).to.equal(readFileSync(path, "utf8"));
    });
  }
});
