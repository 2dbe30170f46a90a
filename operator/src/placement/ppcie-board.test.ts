import { expect } from "chai";
import type { ConfidentialHost } from "../api/v1alpha1/generated/types.ts";
import { aConfidentialHost, anH100 } from "../../test/support/builders/confidential-host.ts";
import {
  aPpcieBoardHost,
  anLs10NvSwitch,
  BOARD_GPU_ADDRESSES,
  BOARD_NVSWITCH_ADDRESSES,
} from "../../test/support/builders/ppcie-board.ts";
import { hostBoardMode, hostNvSwitches } from "./host-board.ts";
import { type BoardOwnership, ppcieBoardOffer, ppcieHostRefusals } from "./ppcie-board.ts";

const ME = "team-a/hgx-board";
const free: BoardOwnership = { cvmKey: ME, ownerOf: () => undefined, boardHolder: undefined };
const owned = (owners: Record<string, string>, boardHolder?: string): BoardOwnership => ({
  cvmKey: ME,
  ownerOf: (pciAddress) => owners[pciAddress],
  boardHolder,
});
const board = aPpcieBoardHost();
const gpusOf = (host: ConfidentialHost) => host.status?.gpus ?? [];

describe("host board facts", () => {
  const cases: { name: string; host: ConfidentialHost; mode: string; switches: number }[] = [
    { name: "a PPCIe board", host: board, mode: "ppcie", switches: 4 },
    { name: "CC-mode GPUs, no switch list", host: aConfidentialHost(), mode: "cc", switches: 0 },
    { name: "no GPUs at all", host: aConfidentialHost({ gpus: [] }), mode: "cc", switches: 0 },
    {
      name: "one GPU in CC mode among PPCIe ones",
      host: aPpcieBoardHost("h", {
        status: { gpus: [...gpusOf(board).slice(1), anH100("0000:18:00.0", { ccMode: "on" })] },
      }),
      mode: "mixed",
      switches: 4,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: mode ${c.mode}, ${c.switches} NVSwitches`, () => {
      expect(hostBoardMode(c.host)).to.equal(c.mode);
      expect(hostNvSwitches(c.host)).to.have.length(c.switches);
    });
  }
});

describe("ppcieBoardOffer", () => {
  it("offers every GPU and every NVSwitch of a free PPCIe board, in PCI address order", () => {
    const shuffled = aPpcieBoardHost("hgx-1", {
      status: { gpus: [...gpusOf(board)].reverse() },
      nvswitches: BOARD_NVSWITCH_ADDRESSES.map((a) => anLs10NvSwitch(a)).reverse(),
    });
    const offer = ppcieBoardOffer(shuffled, "H100-SXM5-80GB", free);
    expect(offer.reasons).to.deep.equal([]);
    expect(offer.gpus.map((g) => g.pciAddress)).to.deep.equal(BOARD_GPU_ADDRESSES);
    expect(offer.nvswitches.map((s) => s.pciAddress)).to.deep.equal(BOARD_NVSWITCH_ADDRESSES);
  });

  it("keeps offering the board to the CVM that already holds it", () => {
    const mine = Object.fromEntries(
      [...BOARD_GPU_ADDRESSES, ...BOARD_NVSWITCH_ADDRESSES].map((a) => [a, ME]),
    );
    expect(ppcieBoardOffer(board, undefined, owned(mine, ME)).reasons).to.deep.equal([]);
  });

  const refusals: {
    name: string;
    host: ConfidentialHost;
    model?: string;
    ownership?: BoardOwnership;
    reasons: string[];
  }[] = [
    {
      name: "a host whose GPUs are in CC mode",
      host: aPpcieBoardHost("h", { status: { gpus: BOARD_GPU_ADDRESSES.map((a) => anH100(a)) } }),
      reasons: ["GPUs not in PPCIe mode, want a PPCIe board"],
    },
    {
      name: "a board with one GPU left in CC mode",
      host: aPpcieBoardHost("h", {
        status: { gpus: [anH100("0000:18:00.0"), ...gpusOf(board).slice(1)] },
      }),
      reasons: ["GPUs in mixed CC and PPCIe modes, want a PPCIe board"],
    },
    {
      name: "a host that reports 3 NVSwitches (one hidden from the CVM)",
      host: aPpcieBoardHost("h", {
        nvswitches: BOARD_NVSWITCH_ADDRESSES.slice(1).map((a) => anLs10NvSwitch(a)),
      }),
      reasons: ["8 GPUs and 3 NVSwitches, a PPCIe board is 8 and 4"],
    },
    {
      name: "a host without any NVSwitch list",
      host: aPpcieBoardHost("h", { nvswitches: [] }),
      reasons: ["8 GPUs and 0 NVSwitches, a PPCIe board is 8 and 4"],
    },
    {
      name: "a device left on the host driver, a switch not in PPCIe mode",
      host: aPpcieBoardHost("h", {
        status: {
          gpus: [anH100("0000:18:00.0", { ccMode: "ppcie", driver: "nvidia" }), ...gpusOf(board).slice(1)],
        },
        nvswitches: [
          anLs10NvSwitch("0000:05:00.0", { driver: "nvidia-nvswitch" }),
          anLs10NvSwitch("0000:06:00.0", { ppcieMode: "off" }),
          { pciAddress: "0000:07:00.0", deviceId: "0x22a3", driver: "vfio-pci" },
          anLs10NvSwitch("0000:08:00.0"),
        ],
      }),
      reasons: [
        "GPU 0000:18:00.0 on nvidia, not vfio-pci",
        "NVSwitch 0000:05:00.0 on nvidia-nvswitch, not vfio-pci",
        "NVSwitch 0000:06:00.0 PPCIe mode off, want on",
        "NVSwitch 0000:07:00.0 PPCIe mode unknown, want on",
      ],
    },
    {
      name: "a board of another GPU model",
      host: board,
      model: "H200-SXM-141GB",
      reasons: BOARD_GPU_ADDRESSES.map((a) => `GPU ${a} is H100-SXM5-80GB, want H200-SXM-141GB`),
    },
    {
      name: "a board another CVM holds",
      host: board,
      ownership: owned({}, "team-b/other-board"),
      reasons: ["PPCIe board held by team-b/other-board"],
    },
    {
      name: "a board one of whose devices another CVM holds (no board claim recorded)",
      host: board,
      ownership: owned({ "0000:07:00.0": "team-b/stale", "0000:2a:00.0": "team-c/cc-vm" }),
      reasons: ["devices held by team-b/stale", "devices held by team-c/cc-vm"],
    },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name}`, () => {
      const offer = ppcieBoardOffer(r.host, r.model, r.ownership ?? free);
      expect(offer.reasons).to.deep.equal(r.reasons);
    });
  }
});

describe("ppcieHostRefusals (what a CC-mode or CPU-only CVM is told)", () => {
  const cases: { name: string; host: ConfidentialHost; ownership: BoardOwnership; reasons: string[] }[] = [
    { name: "a CC-mode host is fine", host: aConfidentialHost(), ownership: free, reasons: [] },
    {
      name: "a PPCIe host serves only its board's CVM",
      host: board,
      ownership: free,
      reasons: [
        "GPUs in PPCIe mode: only a whole-board ConfidentialVM (spec.gpus.mode ppcie) may use this host",
      ],
    },
    {
      name: "a held board stays held even when the host now reports CC mode",
      host: aConfidentialHost(),
      ownership: owned({}, "team-b/board"),
      reasons: ["PPCIe board held by team-b/board"],
    },
    {
      name: "mixed modes",
      host: aPpcieBoardHost("h", { status: { gpus: [anH100("0000:18:00.0"), ...gpusOf(board).slice(1)] } }),
      ownership: free,
      reasons: ["GPUs in mixed CC and PPCIe modes"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(ppcieHostRefusals(c.host, c.ownership)).to.deep.equal(c.reasons);
    });
  }
});
