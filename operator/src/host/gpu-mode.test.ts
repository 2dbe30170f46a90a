import { expect } from "chai";
import type { ConfidentialHostStatusNvswitch } from "../api/v1alpha1/generated/types.ts";
import { anH100 } from "../../test/support/builders/confidential-host.ts";
import { decideHostGpuMode, usableGpuCount } from "./gpu-mode.ts";

const BOARD = ["18", "2a", "3a", "5d", "9a", "ab", "ba", "db"].map((bus) => `0000:${bus}:00.0`);
const SWITCHES = ["05", "06", "07", "08"].map((bus) => `0000:${bus}:00.0`);
const gpus = (...modes: ("on" | "off" | "ppcie" | "devtools" | "unknown")[]) =>
  BOARD.slice(0, modes.length).map((bdf, i) => anH100(bdf, { ccMode: modes[i] ?? "on" }));
const switches = (
  modes: ("on" | "off" | "unknown")[],
  overrides: Partial<ConfidentialHostStatusNvswitch> = {},
): ConfidentialHostStatusNvswitch[] =>
  modes.map((ppcieMode, i) => ({
    pciAddress: SWITCHES[i] ?? "",
    vendorId: "0x10de",
    deviceId: "0x22a3",
    driver: "vfio-pci",
    iommuGroup: String(10 + i),
    iommuGroupViable: true,
    ppcieMode,
    ...overrides,
  }));
const ppcie8 = () => gpus(...Array<"ppcie">(8).fill("ppcie"));

describe("decideHostGpuMode", () => {
  const cases: [string, ReturnType<typeof gpus>, ConfidentialHostStatusNvswitch[], string, string[]][] = [
    ["no GPUs", [], [], "none", []],
    [
      "every GPU CC on, switches unused",
      gpus("on", "on"),
      switches(["unknown", "off"], { driver: "none" }),
      "on",
      [],
    ],
    ["a whole PPCIe board", ppcie8(), switches(["on", "on", "on", "on"]), "ppcie", []],
    [
      "a PPCIe board with 3 of 4 switches in PPCIe",
      ppcie8(),
      switches(["on", "on", "on", "off"]),
      "mixed",
      ["GPUs in protected PCIe mode but NVSwitches 0000:08:00.0 (off) not"],
    ],
    [
      "a PPCIe board whose switch is still on the NVIDIA driver",
      ppcie8(),
      [
        ...switches(["on", "on", "on"]),
        ...switches(["on"], { pciAddress: SWITCHES[3] ?? "", driver: "nvidia" }),
      ],
      "ppcie",
      ["NVSwitch 0000:08:00.0 bound to nvidia, not vfio-pci"],
    ],
    [
      "a PPCIe switch whose IOMMU group is shared",
      ppcie8(),
      switches(["on", "on", "on", "on"], {}).map((s, i) =>
        i === 0 ? { ...s, iommuGroupViable: false, iommuGroupBlockers: ["0000:04:00.0 (none)"] } : s,
      ),
      "ppcie",
      ["NVSwitch 0000:05:00.0 IOMMU group 10 not viable: 0000:04:00.0 (none) not on vfio-pci"],
    ],
    [
      "PPCIe GPUs without any NVSwitch",
      ppcie8(),
      [],
      "ppcie",
      ["GPUs in protected PCIe mode but no NVSwitch found"],
    ],
    [
      "some GPUs on, some ppcie",
      gpus("on", "on", "ppcie", "ppcie"),
      switches(["on"]),
      "mixed",
      [
        "mixed modes: GPUs 0000:18:00.0, 0000:2a:00.0 in CC mode on, GPUs 0000:3a:00.0, 0000:5d:00.0 in protected PCIe mode",
      ],
    ],
    [
      "GPUs on while a switch is in PPCIe",
      gpus("on", "on"),
      switches(["on", "off"]),
      "mixed",
      ["GPUs in CC mode on but NVSwitches 0000:05:00.0 in protected PCIe mode"],
    ],
    ["one GPU off", gpus("on", "off"), [], "mixed", ["GPU 0000:2a:00.0 CC mode off"]],
    [
      "all devtools",
      gpus("devtools", "devtools"),
      [],
      "devtools",
      ["GPU 0000:18:00.0 CC mode devtools", "GPU 0000:2a:00.0 CC mode devtools"],
    ],
    ["a GPU unknown", gpus("on", "unknown"), [], "unknown", ["GPU 0000:2a:00.0 CC mode unknown"]],
  ];
  for (const [name, g, s, mode, problems] of cases)
    it(`says ${mode} for ${name}`, () => {
      expect(decideHostGpuMode(g, s)).to.deep.equal({ mode, problems });
    });

  it("counts the GPUs usable in the host's mode", () => {
    expect(usableGpuCount(ppcie8(), "ppcie")).to.equal(8);
    expect(usableGpuCount(gpus("on", "off", "on"), "mixed")).to.equal(2);
    expect(
      usableGpuCount(
        gpus("on", "on").map((g, i) => (i === 0 ? { ...g, driver: "nvidia" } : g)),
        "on",
      ),
    ).to.equal(1);
  });
});
