import type { ConfidentialHost, ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import type { VirtualMachine, VirtualMachineInstance } from "../../kubevirt/generated/types.ts";
import type { VmPlacement } from "../../kubevirt/virtual-machine.ts";
import { isConditionTrue } from "../../runtime/conditions.ts";
import { placementMismatch } from "../../placement/gpu-request.ts";
import { CONDITION_VALIDATED } from "../../api/v1alpha1/confidential-host-conditions.ts";

/** The placement recorded in a ConfidentialVM's status, if it has one. */
export function recordedPlacement(cvm: ConfidentialVM): VmPlacement | undefined {
  const nodeName = cvm.status?.nodeName;
  if (nodeName === undefined || nodeName === "") return undefined;
  const nvswitches = (cvm.status?.nvswitches ?? []).map((s) => ({ pciAddress: s.pciAddress }));
  return {
    nodeName,
    gpus: (cvm.status?.gpus ?? []).map((g) => ({
      ...(g.pciAddress === undefined ? {} : { pciAddress: g.pciAddress }),
      model: g.model ?? "",
    })),
    ...(nvswitches.length === 0 ? {} : { nvswitches }),
  };
}

/** A recorded placement no longer fits the spec when the GPU count, model or mode (CC or PPCIe board) changed. */
export function placementFitsSpec(cvm: ConfidentialVM, placement: VmPlacement): boolean {
  return placementMismatch(cvm, placement) === undefined;
}

export type HostState = { ok: true } | { ok: false; reason: "gone" | "invalid"; message: string };

export function hostState(host: ConfidentialHost | undefined, nodeName: string): HostState {
  if (host === undefined)
    return { ok: false, reason: "gone", message: `ConfidentialHost ${nodeName} not found` };
  if (isConditionTrue(host.status?.conditions, CONDITION_VALIDATED)) return { ok: true };
  const validated = host.status?.conditions?.find((c) => c.type === CONDITION_VALIDATED);
  return {
    ok: false,
    reason: "invalid",
    message: `host ${nodeName} not Validated: ${validated?.message ?? "no verdict yet"}`,
  };
}

export type VmState =
  | { kind: "missing" }
  | { kind: "outdated" }
  | { kind: "deleting" }
  | { kind: "halted" }
  | { kind: "starting"; message: string }
  | { kind: "running"; instanceUid: string }
  | { kind: "failed"; message: string };

/** Where the VM stands relative to what the ConfidentialVM asks for. */
export function vmState(
  vm: VirtualMachine | undefined,
  vmi: VirtualMachineInstance | undefined,
  launchedAsWanted: (vm: VirtualMachine) => boolean,
  nodeName: string,
): VmState {
  if (vm === undefined) return { kind: "missing" };
  if (vm.metadata?.deletionTimestamp !== undefined) return { kind: "deleting" };
  if (!launchedAsWanted(vm)) return { kind: "outdated" };
  if (vm.spec.runStrategy === "Halted") return { kind: "halted" };
  const phase = vmi?.status?.phase;
  if (phase === "Failed") {
    const reason = vmi?.status?.conditions?.find((c) => c.status === "False")?.message ?? "the VMI failed";
    return { kind: "failed", message: reason };
  }
  if (phase === "Running") {
    if (vmi?.status?.nodeName !== nodeName) {
      return {
        kind: "failed",
        message: `VMI runs on ${vmi?.status?.nodeName ?? "no node"}, not the validated host ${nodeName}`,
      };
    }
    return { kind: "running", instanceUid: vmi.metadata?.uid ?? "" };
  }
  // One message for every start-up phase, so each VMI phase step does not cost a status write.
  return { kind: "starting", message: `waiting for the VMI to run on ${nodeName}` };
}
