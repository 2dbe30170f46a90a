/**
 * Placement and the ledger treat a PPCIe board as one unit: the whole board (8 GPUs, 4 NVSwitches) goes to one
 * ConfidentialVM with spec.gpus.mode ppcie, and a PPCIe host takes no other CVM. The host side (GPUs in ppcie mode,
 * `status.nvswitches`) is modelled as host validation is assumed to report it (see placement/host-board.ts).
 */
import { expect } from "chai";
import type { ConfidentialHost, ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import { compilePolicySpec } from "../../attestation/policy/compiled-policy.ts";
import { aConfidentialHost, anH100 } from "../../../test/support/builders/confidential-host.ts";
import { aConfidentialVM } from "../../../test/support/builders/confidential-vm.ts";
import {
  aPpcieBoardHost,
  BOARD_GPU_ADDRESSES,
  BOARD_NVSWITCH_ADDRESSES,
  VALIDATED,
} from "../../../test/support/builders/ppcie-board.ts";
import { GpuLedger } from "./gpu-ledger.ts";
import { recordedPlacement } from "./lifecycle.ts";
import {
  boardKey,
  describeRefusals,
  gpuKey,
  type Placement,
  scheduleConfidentialVM,
  type SchedulingInput,
} from "./scheduling.ts";
import { placed } from "./lifecycle-status.ts";
import { nextStatus } from "./status.ts";

const H100 = "H100-SXM5-80GB";
const PPCIE_POLICY = compilePolicySpec({ host: { requireGpuCcMode: "ppcie" } }).host;
const CC_POLICY = compilePolicySpec({}).host;
const BOARD_KEY = "team-a/hgx-board";

const ccHost = (name: string): ConfidentialHost =>
  aConfidentialHost({ gpus: BOARD_GPU_ADDRESSES.map((a) => anH100(a)), conditions: VALIDATED }, name);
const boardCvm = (): ConfidentialVM => aConfidentialVM({ gpus: { mode: "ppcie", model: H100 } }, "hgx-board");
const oneGpuCvm = (): ConfidentialVM => aConfidentialVM({ gpus: { count: 1, model: H100 } }, "small");

function input(
  cvm: ConfidentialVM,
  cvmKey: string,
  overrides: Partial<SchedulingInput> = {},
): SchedulingInput {
  const hosts = overrides.hosts ?? [ccHost("cc-1"), aPpcieBoardHost("hgx-1")];
  return {
    cvm,
    cvmKey,
    hostRules: cvm.spec.gpus?.mode === "ppcie" ? PPCIE_POLICY : CC_POLICY,
    hosts,
    nodeLabels: new Map(hosts.map((h) => [h.metadata.name ?? "", {}])),
    assignments: new Map(),
    ...overrides,
  };
}

/** The board CVM as the cache shows it once its placement is recorded in its status. */
function placedBoardCvm(placement: Placement): ConfidentialVM {
  const cvm = boardCvm();
  const written = nextStatus(cvm, placed(placement), new Date());
  cvm.status = Object.fromEntries(Object.entries(written).filter(([, v]) => v !== null));
  return cvm;
}

function boardPlacement(): Placement {
  const result = scheduleConfidentialVM(input(boardCvm(), BOARD_KEY));
  if (!result.scheduled) throw new Error(describeRefusals(result.refusals));
  return result.placement;
}

describe("scheduling a PPCIe board", () => {
  it("gives a ppcie CVM the whole board of the PPCIe host: all 8 GPUs and all 4 NVSwitches", () => {
    expect(boardPlacement()).to.deep.equal({
      nodeName: "hgx-1",
      gpus: BOARD_GPU_ADDRESSES.map((pciAddress) => ({ pciAddress, model: H100 })),
      nvswitches: BOARD_NVSWITCH_ADDRESSES.map((pciAddress) => ({ pciAddress })),
    });
  });

  it("refuses a ppcie CVM everywhere when its policy requires CC mode on, naming each host's reasons", () => {
    const result = scheduleConfidentialVM({ ...input(boardCvm(), BOARD_KEY), hostRules: CC_POLICY });
    expect(result.scheduled).to.equal(false);
    if (result.scheduled) return;
    const byHost = new Map(result.refusals.map((r) => [r.host, r.reasons]));
    expect(byHost.get("cc-1")).to.include("GPUs not in PPCIe mode, want a PPCIe board");
    expect(byHost.get("hgx-1")).to.include("GPU 0000:18:00.0 CC mode ppcie, policy requires on");
  });

  it("never sends a CC-mode CVM to a PPCIe host, and never a ppcie CVM to a CC-mode host", () => {
    const small = scheduleConfidentialVM(input(oneGpuCvm(), "team-a/small"));
    expect(small.scheduled && small.placement.nodeName).to.equal("cc-1");
    const onlyBoard = scheduleConfidentialVM(
      input(oneGpuCvm(), "team-a/small", { hosts: [aPpcieBoardHost()] }),
    );
    expect(onlyBoard.scheduled).to.equal(false);
    if (!onlyBoard.scheduled)
      expect(describeRefusals(onlyBoard.refusals)).to.equal(
        "hgx-1: GPU 0000:18:00.0 CC mode ppcie, policy requires on, GPU 0000:2a:00.0 CC mode ppcie, policy requires on, " +
          "GPU 0000:3a:00.0 CC mode ppcie, policy requires on, GPU 0000:5d:00.0 CC mode ppcie, policy requires on, " +
          "GPU 0000:9a:00.0 CC mode ppcie, policy requires on, GPU 0000:ab:00.0 CC mode ppcie, policy requires on, " +
          "GPU 0000:ba:00.0 CC mode ppcie, policy requires on, GPU 0000:db:00.0 CC mode ppcie, policy requires on, " +
          "GPUs in PPCIe mode: only a whole-board ConfidentialVM (spec.gpus.mode ppcie) may use this host, " +
          "0 free CC-ready H100-SXM5-80GB GPUs, want 1",
      );
    const onlyCc = scheduleConfidentialVM(input(boardCvm(), BOARD_KEY, { hosts: [ccHost("cc-1")] }));
    expect(onlyCc.scheduled).to.equal(false);
  });

  it("puts no CPU-only CVM on a PPCIe host", () => {
    const cpu = aConfidentialVM({ gpus: { count: 0 } }, "cpu");
    const result = scheduleConfidentialVM(input(cpu, "team-a/cpu", { hosts: [aPpcieBoardHost()] }));
    expect(result.scheduled).to.equal(false);
  });

  describe("with the board held (the ledger over the board CVM's recorded status)", () => {
    function heldAssignments(): ReadonlyMap<string, string> {
      return new GpuLedger().assignments([placedBoardCvm(boardPlacement())]);
    }

    it("the ledger holds the board, its 8 GPUs and 4 NVSwitches for the board CVM", () => {
      const held = heldAssignments();
      expect(held.get(boardKey("hgx-1"))).to.equal(BOARD_KEY);
      for (const a of [...BOARD_GPU_ADDRESSES, ...BOARD_NVSWITCH_ADDRESSES])
        expect(held.get(gpuKey("hgx-1", a))).to.equal(BOARD_KEY);
      expect(held.size).to.equal(13);
    });

    it("attacker: a second CVM asking for 1 GPU on the held PPCIe host is refused, naming the holder", () => {
      const result = scheduleConfidentialVM(
        input(oneGpuCvm(), "team-b/small", { hosts: [aPpcieBoardHost()], assignments: heldAssignments() }),
      );
      expect(result.scheduled).to.equal(false);
      if (!result.scheduled)
        expect(result.refusals[0]?.reasons).to.include.members([
          "PPCIe board held by team-a/hgx-board",
          "0 free CC-ready H100-SXM5-80GB GPUs, want 1",
        ]);
    });

    it("attacker: the host flips its GPUs to CC mode; the held board still takes nobody else", () => {
      const flipped = aPpcieBoardHost("hgx-1", {
        status: { gpus: BOARD_GPU_ADDRESSES.map((a) => anH100(a)) },
      });
      const result = scheduleConfidentialVM(
        input(oneGpuCvm(), "team-b/small", { hosts: [flipped], assignments: heldAssignments() }),
      );
      expect(result.scheduled).to.equal(false);
      if (!result.scheduled)
        expect(describeRefusals(result.refusals)).to.equal(
          "hgx-1: PPCIe board held by team-a/hgx-board, 0 free CC-ready H100-SXM5-80GB GPUs, want 1",
        );
    });

    it("a second ppcie CVM gets no share of the held board", () => {
      const other = aConfidentialVM({ gpus: { mode: "ppcie" } }, "other-board");
      const result = scheduleConfidentialVM(
        input(other, "team-b/other-board", { hosts: [aPpcieBoardHost()], assignments: heldAssignments() }),
      );
      expect(result.scheduled).to.equal(false);
      if (!result.scheduled)
        expect(describeRefusals(result.refusals)).to.equal("hgx-1: PPCIe board held by team-a/hgx-board");
    });

    it("the board CVM itself is placed on its board again (its own claims are free to it)", () => {
      const result = scheduleConfidentialVM(
        input(boardCvm(), BOARD_KEY, { hosts: [aPpcieBoardHost()], assignments: heldAssignments() }),
      );
      expect(result.scheduled && result.placement).to.deep.equal(boardPlacement());
    });
  });

  it("records the board in status and reads the same placement back (so the ledger reservation settles)", () => {
    const placement = boardPlacement();
    expect(placed(placement).event?.message).to.equal(
      "placed on validated host hgx-1 with 8 GPUs and 4 NVSwitches (PPCIe board)",
    );
    const cvm = placedBoardCvm(placement);
    expect(cvm.status?.nvswitches).to.deep.equal(
      BOARD_NVSWITCH_ADDRESSES.map((pciAddress) => ({ pciAddress })),
    );
    expect(recordedPlacement(cvm)).to.deep.equal(placement);
    const ledger = new GpuLedger();
    ledger.reserve(BOARD_KEY, placement);
    ledger.settle(BOARD_KEY, cvm);
    expect(ledger.assignments([]).size, "the reservation settled against the recorded status").to.equal(0);
  });

  it("writes no nvswitches field for a CC-mode placement (older CVMs' status is unchanged)", () => {
    const cvm = oneGpuCvm();
    const placement = { nodeName: "cc-1", gpus: [{ pciAddress: "0000:18:00.0", model: H100 }] };
    const written = nextStatus(cvm, placed(placement), new Date());
    expect(written.nvswitches).to.equal(null);
    cvm.status = { nodeName: "cc-1", gpus: [{ pciAddress: "0000:18:00.0", model: H100 }] };
    expect(recordedPlacement(cvm)).to.deep.equal({
      nodeName: "cc-1",
      gpus: [{ pciAddress: "0000:18:00.0", model: H100 }],
    });
  });
});
