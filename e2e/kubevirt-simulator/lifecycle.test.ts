import { expect } from "chai";
import type {
  V1VirtualMachineInstanceStatus,
  VirtualMachine,
  VirtualMachineInstance,
} from "../../operator/src/kubevirt/generated/types.ts";
import {
  FAIL_ANNOTATION,
  machineStatus,
  nextInstanceStatus,
  requestedFailure,
  restartsInstance,
  runStrategyOf,
  settledInstanceStatus,
  startsInstance,
} from "./lifecycle.ts";

const T0 = "2026-01-01T00:00:00Z";
const T1 = "2026-01-01T00:00:05Z";
const onNode = { nodeName: "gpu-1" };

function aVm(spec: Partial<VirtualMachine["spec"]> = { runStrategy: "Always" }): VirtualMachine {
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachine",
    metadata: { name: "vm", namespace: "ns" },
    spec: { template: { spec: { domain: { devices: {} } } }, ...spec },
  };
}

function aVmi(status?: V1VirtualMachineInstanceStatus): VirtualMachineInstance {
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachineInstance",
    metadata: { name: "vm", namespace: "ns" },
    spec: { domain: { devices: {} } },
    ...(status === undefined ? {} : { status }),
  };
}

/** Steps the status until it stops changing, like the simulator's reconcile loop does. */
function settle(input: Parameters<typeof nextInstanceStatus>[1]): V1VirtualMachineInstanceStatus[] {
  const seen: V1VirtualMachineInstanceStatus[] = [];
  let status: V1VirtualMachineInstanceStatus | undefined;
  for (;;) {
    const next = nextInstanceStatus(status, input);
    if (JSON.stringify(next) === JSON.stringify(status ?? {})) return seen;
    seen.push(next);
    status = next;
  }
}

describe("KubeVirt simulator lifecycle", () => {
  describe("run strategies", () => {
    const cases = [
      { spec: { runStrategy: "Always" }, strategy: "Always", starts: true },
      { spec: { runStrategy: "RerunOnFailure" }, strategy: "RerunOnFailure", starts: true },
      { spec: { runStrategy: "Once" }, strategy: "Once", starts: true },
      { spec: { runStrategy: "Manual" }, strategy: "Manual", starts: false },
      { spec: { runStrategy: "Halted" }, strategy: "Halted", starts: false },
      { spec: { running: true }, strategy: "Always", starts: true },
      { spec: { running: false }, strategy: "Halted", starts: false },
    ];
    for (const c of cases) {
      it(`${JSON.stringify(c.spec)} is ${c.strategy}, which ${c.starts ? "starts" : "does not start"} a VMI`, () => {
        const strategy = runStrategyOf(aVm(c.spec));
        expect(strategy).to.equal(c.strategy);
        expect(startsInstance(strategy)).to.equal(c.starts);
      });
    }

    it("restarts a finished VMI for Always, a failed one for RerunOnFailure, never for Once/Manual", () => {
      expect(restartsInstance("Always", "Succeeded")).to.equal(true);
      expect(restartsInstance("Always", "Failed")).to.equal(true);
      expect(restartsInstance("RerunOnFailure", "Failed")).to.equal(true);
      expect(restartsInstance("RerunOnFailure", "Succeeded")).to.equal(false);
      expect(restartsInstance("Once", "Failed")).to.equal(false);
      expect(restartsInstance("Manual", "Failed")).to.equal(false);
    });
  });

  describe("nextInstanceStatus", () => {
    it("steps Pending → Scheduling → Scheduled → Running, one phase per call", () => {
      const steps = settle({ placement: onNode, failure: undefined, now: T0 });
      expect(steps.map((s) => s.phase)).to.deep.equal(["Pending", "Scheduling", "Scheduled", "Running"]);
      const running = steps.at(-1);
      expect(running?.nodeName).to.equal("gpu-1");
      expect(running?.phaseTransitionTimestamps?.map((t) => t.phase)).to.deep.equal([
        "Pending",
        "Scheduling",
        "Scheduled",
        "Running",
      ]);
      expect(running?.conditions).to.deep.equal([
        { type: "Ready", status: "True", lastTransitionTime: T0 },
        { type: "PodScheduled", status: "True", lastTransitionTime: T0 },
      ]);
    });

    it("settles in one call where stepping one phase at a time ends", () => {
      const input = { placement: onNode, failure: undefined, now: T0 };
      expect(settledInstanceStatus(undefined, input)).to.deep.equal(settle(input).at(-1));
      const nowhere = { placement: { unschedulable: "x" }, failure: undefined, now: T0 };
      expect(settledInstanceStatus(undefined, nowhere)).to.deep.equal(settle(nowhere).at(-1));
    });

    it("sets nodeName only once the VMI is Scheduled", () => {
      const steps = settle({ placement: onNode, failure: undefined, now: T0 });
      expect(steps.map((s) => s.nodeName)).to.deep.equal([undefined, undefined, "gpu-1", "gpu-1"]);
    });

    it("keeps a VMI that cannot be placed in Scheduling, with PodScheduled False, and stays put", () => {
      const steps = settle({ placement: { unschedulable: "no node" }, failure: undefined, now: T0 });
      expect(steps.map((s) => s.phase)).to.deep.equal(["Pending", "Scheduling", "Scheduling"]);
      expect(steps.at(-1)?.conditions?.find((c) => c.type === "PodScheduled")).to.deep.equal({
        type: "PodScheduled",
        status: "False",
        reason: "Unschedulable",
        message: "no node",
        lastTransitionTime: T0,
      });
    });

    it("fails a VMI in any phase that is not final, with the reason on Ready", () => {
      const running = settle({ placement: onNode, failure: undefined, now: T0 }).at(-1);
      const failed = nextInstanceStatus(running, { placement: onNode, failure: "GPU lost", now: T1 });
      expect(failed.phase).to.equal("Failed");
      expect(failed.conditions?.find((c) => c.type === "Ready")).to.deep.equal({
        type: "Ready",
        status: "False",
        reason: "GuestNotRunning",
        message: "GPU lost",
        lastTransitionTime: T1,
      });
      expect(nextInstanceStatus(failed, { placement: onNode, failure: undefined, now: T1 })).to.equal(failed);
    });

    it("keeps lastTransitionTime while a condition's status stays the same", () => {
      const scheduling = settle({ placement: { unschedulable: "a" }, failure: undefined, now: T0 }).at(-1);
      const later = nextInstanceStatus(scheduling, {
        placement: { unschedulable: "b" },
        failure: undefined,
        now: T1,
      });
      expect(later.conditions?.find((c) => c.type === "PodScheduled")).to.include({
        message: "b",
        lastTransitionTime: T0,
      });
    });

    it("never puts a null in a status (a JSON merge patch would delete that field)", () => {
      const statuses = [
        ...settle({ placement: onNode, failure: undefined, now: T0 }),
        ...settle({ placement: { unschedulable: "x" }, failure: undefined, now: T0 }),
        machineStatus(aVm(), undefined, T0),
      ];
      for (const status of statuses) expect(JSON.stringify(status)).to.not.include("null");
    });
  });

  describe("machineStatus", () => {
    const running = settle({ placement: onNode, failure: undefined, now: T0 }).at(-1);
    const cases = [
      { name: "no VMI", vm: aVm(), vmi: undefined, printable: "Stopped", created: false, ready: false },
      {
        name: "a Pending VMI",
        vm: aVm(),
        vmi: aVmi({ phase: "Pending" }),
        printable: "Starting",
        created: true,
        ready: false,
      },
      {
        name: "a Running VMI",
        vm: aVm(),
        vmi: aVmi(running),
        printable: "Running",
        created: true,
        ready: true,
      },
      {
        name: "an unschedulable VMI",
        vm: aVm(),
        vmi: aVmi({ phase: "Scheduling", conditions: [{ type: "PodScheduled", status: "False" }] }),
        printable: "ErrorUnschedulable",
        created: true,
        ready: false,
      },
      {
        name: "a failed VMI that Always restarts",
        vm: aVm(),
        vmi: aVmi({ phase: "Failed" }),
        printable: "CrashLoopBackOff",
        created: true,
        ready: false,
      },
      {
        name: "a failed VMI of a Once VM",
        vm: aVm({ runStrategy: "Once" }),
        vmi: aVmi({ phase: "Failed" }),
        printable: "Stopped",
        created: true,
        ready: false,
      },
      {
        name: "a VM being deleted",
        vm: { ...aVm(), metadata: { name: "vm", deletionTimestamp: T0 } },
        vmi: aVmi(running),
        printable: "Terminating",
        created: true,
        ready: true,
      },
    ];
    for (const c of cases) {
      it(`is ${c.printable} with ${c.name}`, () => {
        expect(machineStatus(c.vm, c.vmi, T1)).to.include({
          printableStatus: c.printable,
          created: c.created,
          ready: c.ready,
        });
      });
    }

    it("copies the VMI's conditions, and says VMINotExists without a VMI", () => {
      expect(machineStatus(aVm(), aVmi(running), T1).conditions).to.deep.equal(running?.conditions);
      expect(machineStatus(aVm(), undefined, T1).conditions).to.deep.equal([
        {
          type: "Ready",
          status: "False",
          reason: "VMINotExists",
          message: "VMI does not exist",
          lastTransitionTime: T1,
        },
      ]);
    });
  });

  describe("requestedFailure", () => {
    const annotated = (value: string) => ({
      ...aVm(),
      metadata: { name: "vm", annotations: { [FAIL_ANNOTATION]: value } },
    });
    const cases = [
      { name: "nothing requested", vm: aVm(), hook: undefined, failure: undefined },
      { name: "the annotation's reason", vm: annotated("disk gone"), hook: undefined, failure: "disk gone" },
      {
        name: "an empty annotation",
        vm: annotated(""),
        hook: undefined,
        failure: "failure requested by annotation",
      },
      { name: "a hook returning false", vm: aVm(), hook: () => false, failure: undefined },
      {
        name: "a hook returning true",
        vm: aVm(),
        hook: () => true,
        failure: "failure requested by the failVmi hook",
      },
      { name: "a hook returning a reason", vm: aVm(), hook: () => "OOM", failure: "OOM" },
      { name: "the annotation over the hook", vm: annotated("a"), hook: () => "b", failure: "a" },
    ];
    for (const c of cases) {
      it(`reports ${c.name}`, () => {
        expect(requestedFailure(c.vm, aVmi(), c.hook)).to.equal(c.failure);
      });
    }
  });
});
