// TEST-ONLY: part of the KubeVirt simulator for integration tests and demos. Never shipped in the image.
import { isDeepStrictEqual } from "node:util";
import type {
  V1VirtualMachineInstanceCondition,
  V1VirtualMachineInstanceStatus,
  V1VirtualMachineStatus,
  VirtualMachine,
  VirtualMachineInstance,
} from "../../operator/src/kubevirt/generated/types.ts";
import type { Placement } from "./placement.ts";

/** Put on a VirtualMachine to fail its VMI (phase Failed) with the value as the reason. */
export const FAIL_ANNOTATION = "simulator.trustgate.io/fail";

export type Phase = "" | "Pending" | "Scheduling" | "Scheduled" | "Running" | "Succeeded" | "Failed";

/** The VM's effective runStrategy; the deprecated `running` maps to Always/Halted as in KubeVirt. */
export function runStrategyOf(vm: VirtualMachine): string {
  if (vm.spec.runStrategy !== undefined) return vm.spec.runStrategy;
  return vm.spec.running === true ? "Always" : "Halted";
}

/** Strategies for which virt-controller creates a missing VMI (Manual waits for the start subresource). */
export function startsInstance(runStrategy: string): boolean {
  return runStrategy === "Always" || runStrategy === "RerunOnFailure" || runStrategy === "Once";
}

export function isFinal(phase: string | undefined): boolean {
  return phase === "Succeeded" || phase === "Failed";
}

/** Whether a finished VMI is replaced by a new one (once no failure is requested any more). */
export function restartsInstance(runStrategy: string, phase: string | undefined): boolean {
  return runStrategy === "Always" || (runStrategy === "RerunOnFailure" && phase === "Failed");
}

export type FailVmi = (vmi: VirtualMachineInstance) => boolean | string;

/** The failure requested for this VMI (annotation first, then the hook), or undefined. */
export function requestedFailure(
  vm: VirtualMachine,
  vmi: VirtualMachineInstance,
  failVmi: FailVmi | undefined,
): string | undefined {
  const annotation = vm.metadata?.annotations?.[FAIL_ANNOTATION];
  if (annotation !== undefined) return annotation === "" ? "failure requested by annotation" : annotation;
  const hooked = failVmi?.(vmi) ?? false;
  if (hooked === false) return undefined;
  return hooked === true ? "failure requested by the failVmi hook" : hooked;
}

export interface StepInput {
  placement: Placement;
  failure: string | undefined;
  now: string;
}

/**
 * The VMI status one virt-controller/virt-handler step later: "" → Pending → Scheduling → Scheduled →
 * Running, or Failed when a failure is requested. Returns the current status when nothing changes.
 */
export function nextInstanceStatus(
  status: V1VirtualMachineInstanceStatus | undefined,
  input: StepInput,
): V1VirtualMachineInstanceStatus {
  const current = status ?? {};
  const phase = current.phase ?? "";
  if (isFinal(phase)) return current;
  if (input.failure !== undefined) {
    return enterPhase(current, "Failed", input.now, [notReady("GuestNotRunning", input.failure)]);
  }
  switch (phase) {
    case "":
      return enterPhase(current, "Pending", input.now, [
        notReady("PodNotExists", "virt-launcher pod has not yet been created"),
      ]);
    case "Pending":
      return enterPhase(current, "Scheduling", input.now, [
        notReady("GuestNotRunning", "Guest VM is not reported as running"),
      ]);
    case "Scheduling": {
      const { placement } = input;
      if ("unschedulable" in placement) {
        return withConditions(current, input.now, [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: placement.unschedulable,
          },
        ]);
      }
      return {
        ...enterPhase(current, "Scheduled", input.now, [{ type: "PodScheduled", status: "True" }]),
        nodeName: placement.nodeName,
      };
    }
    case "Scheduled":
      return enterPhase(current, "Running", input.now, [{ type: "Ready", status: "True" }]);
    default:
      return current;
  }
}

/** Steps until nothing changes: where a VMI ends up (Running, Scheduling or Failed) if left alone. */
export function settledInstanceStatus(
  status: V1VirtualMachineInstanceStatus | undefined,
  input: StepInput,
): V1VirtualMachineInstanceStatus {
  let current = status ?? {};
  for (;;) {
    const next = nextInstanceStatus(current, input);
    if (isDeepStrictEqual(next, current)) return current;
    current = next;
  }
}

type DesiredCondition = Pick<V1VirtualMachineInstanceCondition, "type" | "status" | "reason" | "message">;

function notReady(reason: string, message: string): DesiredCondition {
  return { type: "Ready", status: "False", reason, message };
}

function enterPhase(
  current: V1VirtualMachineInstanceStatus,
  phase: Phase,
  now: string,
  conditions: DesiredCondition[],
): V1VirtualMachineInstanceStatus {
  return {
    ...withConditions(current, now, conditions),
    phase,
    phaseTransitionTimestamps: [
      ...(current.phaseTransitionTimestamps ?? []),
      { phase, phaseTransitionTimestamp: now },
    ],
  };
}

function withConditions(
  current: V1VirtualMachineInstanceStatus,
  now: string,
  desired: DesiredCondition[],
): V1VirtualMachineInstanceStatus {
  let conditions = current.conditions ?? [];
  for (const condition of desired) conditions = setCondition(conditions, condition, now);
  return { ...current, conditions };
}

/**
 * Sets a condition; lastTransitionTime is kept unless the status flips (reason/message may change).
 * No field is ever null: statuses are written as JSON merge patches, where null deletes the field, so
 * the stored status would never equal the computed one and the simulator would rewrite it forever.
 */
export function setCondition(
  conditions: readonly V1VirtualMachineInstanceCondition[],
  desired: DesiredCondition,
  now: string,
): V1VirtualMachineInstanceCondition[] {
  const previous = conditions.find((c) => c.type === desired.type);
  const next: V1VirtualMachineInstanceCondition = {
    type: desired.type,
    status: desired.status,
    ...(desired.reason === undefined ? {} : { reason: desired.reason }),
    ...(desired.message === undefined ? {} : { message: desired.message }),
    lastTransitionTime:
      previous !== undefined && previous.status === desired.status ? previous.lastTransitionTime : now,
  };
  return previous === undefined
    ? [...conditions, next]
    : conditions.map((c) => (c.type === desired.type ? next : c));
}

/**
 * The VM status virt-controller derives from its VMI: printableStatus, ready, created, and the VMI's
 * conditions copied onto the VM (Ready is VMINotExists while there is no VMI).
 */
export function machineStatus(
  vm: VirtualMachine,
  vmi: VirtualMachineInstance | undefined,
  now: string,
): V1VirtualMachineStatus {
  const previous = vm.status?.conditions ?? [];
  const conditions =
    vmi === undefined
      ? setCondition(
          previous.filter((c) => c.type === "Ready"),
          { type: "Ready", status: "False", reason: "VMINotExists", message: "VMI does not exist" },
          now,
        )
      : (vmi.status?.conditions ?? []);
  const phase = vmi?.status?.phase;
  const ready = phase === "Running" && conditions.some((c) => c.type === "Ready" && c.status === "True");
  return {
    ...vm.status,
    printableStatus: printableStatus(vm, vmi),
    created: vmi !== undefined,
    ready,
    conditions,
  };
}

function printableStatus(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined): string {
  if (vm.metadata?.deletionTimestamp !== undefined) return "Terminating";
  if (vmi === undefined) return "Stopped";
  const phase = vmi.status?.phase;
  if (phase === "Running") return "Running";
  if (phase === "Failed") return restartsInstance(runStrategyOf(vm), phase) ? "CrashLoopBackOff" : "Stopped";
  if (phase === "Succeeded") return "Stopped";
  const unscheduled = vmi.status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False");
  return unscheduled === true ? "ErrorUnschedulable" : "Starting";
}
