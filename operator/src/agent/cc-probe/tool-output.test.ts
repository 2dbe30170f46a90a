import { expect } from "chai";
import { gpuAdminToolsOutput, type ToolDevice } from "../../../test/support/builders/host-tree.ts";
import { parseToolOutput, verdictFor } from "./tool-output.ts";

const h100: ToolDevice = {
  kind: "gpu",
  bdf: "0000:18:00.0",
  name: "H100",
  deviceId: "0x2330",
  bar0: "0x21e042000000",
};
const ls10: ToolDevice = {
  kind: "nvswitch",
  bdf: "0000:05:00.0",
  name: "NVSwitch_gen3",
  deviceId: "0x22a3",
  bar0: "0x21c000000000",
};
const lines = (device: ToolDevice, modes: { cc?: string; ppcie?: string }) => {
  const { stdout, stderr } = gpuAdminToolsOutput(device, modes);
  return parseToolOutput(`${stdout}\n${stderr}`).get(device.bdf);
};

describe("gpu-admin-tools output", () => {
  it("reads the CC and PPCIe answers, not the 'has CC mode' warning", () => {
    expect(lines(h100, { cc: "on", ppcie: "off" })).to.deep.equal({ cc: "on", ppcie: "off" });
    expect(lines(ls10, { ppcie: "on" })).to.deep.equal({ ppcie: "on" });
  });

  it("does not take a pending 'set to' line for the current mode", () => {
    const text =
      "2026-03-02,08:00:01.300 INFO     GPU 0000:18:00.0 H100 0x2330 BAR0 0x1 CC mode set to off. It will be active after GPU reset.\n";
    expect(parseToolOutput(text).size).to.equal(0);
  });

  const cases: [string, ToolDevice, { cc?: string; ppcie?: string }, ReturnType<typeof verdictFor>][] = [
    ["a GPU in CC mode", h100, { cc: "on", ppcie: "off" }, { ok: true, ccMode: "on", ppcieMode: "off" }],
    [
      "a GPU in devtools",
      h100,
      { cc: "devtools", ppcie: "off" },
      { ok: true, ccMode: "devtools", ppcieMode: "off" },
    ],
    [
      "a GPU in PPCIe mode (CC off)",
      h100,
      { cc: "off", ppcie: "on" },
      { ok: true, ccMode: "ppcie", ppcieMode: "on" },
    ],
    ["a GPU whose PPCIe mode the tool cannot query", h100, { cc: "on" }, { ok: true, ccMode: "on" }],
    ["an NVSwitch in PPCIe mode", ls10, { ppcie: "on" }, { ok: true, ppcieMode: "on" }],
    [
      "a GPU without a CC line",
      h100,
      { ppcie: "off" },
      { ok: false, reason: "no CC mode line in the tool's output" },
    ],
    [
      "Hopper's invalid devtools-only state",
      h100,
      { cc: "invalid-devtools-only-fix-by-setting-cc-mode", ppcie: "off" },
      { ok: false, reason: "the tool said CC mode is invalid-devtools-only-fix-by-setting-cc-mode" },
    ],
    [
      "CC on and PPCIe on at once",
      h100,
      { cc: "on", ppcie: "on" },
      { ok: false, reason: "the tool said CC mode is on and PPCIe mode is on" },
    ],
    [
      "an NVSwitch without a PPCIe line",
      ls10,
      {},
      { ok: false, reason: "no PPCIe mode line in the tool's output" },
    ],
  ];
  for (const [name, device, modes, expected] of cases)
    it(`decides ${JSON.stringify(expected)} for ${name}`, () => {
      expect(verdictFor(device.kind, lines(device, modes))).to.deep.equal(expected);
    });
});
