import type { VmPlacement } from "../../kubevirt/virtual-machine.ts";
import type { DesiredCondition } from "../../runtime/conditions.ts";
import type { HostState, VmState } from "./lifecycle.ts";
import * as r from "../../api/v1alpha1/confidential-vm-conditions.ts";
import type { StatusUpdate } from "./status.ts";
import { type KubeVirtReadiness, kubeVirtReadyCondition } from "./kubevirt-readiness.ts";

/** The lifecycle status for each situation of the reconciler: phase stage, HostValidated, Deployed, events. */

function deployed(status: "True" | "False", reason: string, message: string): DesiredCondition {
  return { type: r.CONDITION_DEPLOYED, status, reason, message };
}

function hostValidated(nodeName: string): DesiredCondition {
  return {
    type: r.CONDITION_HOST_VALIDATED,
    status: "True",
    reason: r.REASON_HOST_VALIDATED,
    message: `host ${nodeName} validated`,
  };
}

export function policyMissing(policyRef: string, vmExists: boolean): StatusUpdate {
  const message = `AttestationPolicy ${policyRef} not found`;
  return {
    lifecycle: { stage: vmExists ? "Degraded" : "Pending", reason: r.REASON_POLICY_NOT_FOUND, message },
    conditions: [
      { type: r.CONDITION_HOST_VALIDATED, status: "Unknown", reason: r.REASON_POLICY_NOT_FOUND, message },
    ],
    event: { type: "Warning", reason: r.REASON_POLICY_NOT_FOUND },
  };
}

export function policyInvalid(policyRef: string, problems: string, vmExists: boolean): StatusUpdate {
  const message = `AttestationPolicy ${policyRef} is not valid: ${problems}`;
  return {
    lifecycle: { stage: vmExists ? "Degraded" : "Pending", reason: r.REASON_POLICY_INVALID, message },
    conditions: [
      { type: r.CONDITION_HOST_VALIDATED, status: "Unknown", reason: r.REASON_POLICY_INVALID, message },
    ],
    event: { type: "Warning", reason: r.REASON_POLICY_INVALID },
  };
}

export function hostLost(host: Extract<HostState, { ok: false }>): StatusUpdate {
  const { message } = host;
  return {
    lifecycle: { stage: "Degraded", reason: r.REASON_HOST_NOT_VALIDATED, message },
    conditions: [
      {
        type: r.CONDITION_HOST_VALIDATED,
        status: "False",
        reason: host.reason === "gone" ? r.REASON_HOST_GONE : r.REASON_HOST_NOT_VALIDATED,
        message,
      },
    ],
    event: { type: "Warning", reason: r.REASON_HOST_NOT_VALIDATED },
  };
}

export function noEligibleHost(refusals: string): StatusUpdate {
  const message = `no eligible host: ${refusals}`;
  return {
    lifecycle: { stage: "Scheduling", reason: r.REASON_NO_ELIGIBLE_HOST, message },
    placement: null,
    conditions: [
      { type: r.CONDITION_HOST_VALIDATED, status: "False", reason: r.REASON_NO_ELIGIBLE_HOST, message },
      deployed("False", r.REASON_NOT_SCHEDULED, "waiting for an eligible host"),
    ],
    event: { type: "Warning", reason: r.REASON_NO_ELIGIBLE_HOST },
  };
}

function starting(nodeName: string): StatusUpdate {
  const message = `waiting for the VMI to run on ${nodeName}`;
  return {
    lifecycle: { stage: "Launching", reason: r.REASON_VMI_PENDING, message },
    conditions: [hostValidated(nodeName), deployed("False", r.REASON_VMI_PENDING, message)],
  };
}

/** Placed: the same status as a starting VM, so creating the VM does not cost another status write. */
export function placed(placement: VmPlacement): StatusUpdate {
  return {
    ...starting(placement.nodeName),
    placement,
    event: {
      type: "Normal",
      reason: "Scheduled",
      message: `placed on validated host ${placement.nodeName} with ${placement.gpus.length} GPUs${
        placement.nvswitches === undefined
          ? ""
          : ` and ${placement.nvswitches.length} NVSwitches (PPCIe board)`
      }`,
    },
  };
}

/** The status for a VM that exists and was launched as wanted. */
export function ofVm(
  state: Exclude<VmState, { kind: "missing" | "outdated" | "deleting" }>,
  nodeName: string,
) {
  switch (state.kind) {
    case "halted":
      return {
        lifecycle: {
          stage: "Launching",
          reason: r.REASON_HALTED,
          message: "runStrategy Halted: the VM is stopped",
        },
        conditions: [hostValidated(nodeName), deployed("False", r.REASON_HALTED, "runStrategy Halted")],
      } satisfies StatusUpdate;
    case "starting":
      return starting(nodeName);
    case "failed":
      return {
        lifecycle: { stage: "Failed", reason: r.REASON_VMI_FAILED, message: state.message },
        conditions: [hostValidated(nodeName), deployed("False", r.REASON_VMI_FAILED, state.message)],
        event: { type: "Warning", reason: r.REASON_VMI_FAILED },
      } satisfies StatusUpdate;
    case "running":
      return {
        lifecycle: {
          stage: "Running",
          reason: r.REASON_VMI_RUNNING,
          message: `VM running on validated host ${nodeName}`,
        },
        conditions: [
          hostValidated(nodeName),
          deployed("True", r.REASON_VMI_RUNNING, `VMI Running on ${nodeName}`),
        ],
        instanceUid: state.instanceUid,
        event: { type: "Normal", reason: r.REASON_VMI_RUNNING },
      } satisfies StatusUpdate;
  }
}

export function vmInvalid(message: string): StatusUpdate {
  return {
    lifecycle: { stage: "Failed", reason: r.REASON_VM_INVALID, message },
    conditions: [deployed("False", r.REASON_VM_INVALID, message)],
    event: { type: "Warning", reason: r.REASON_VM_INVALID },
  };
}

export function cdiMissing(): StatusUpdate {
  const message =
    "http images are imported by CDI, but the DataVolume API (cdi.kubevirt.io/v1beta1) is not installed";
  return {
    lifecycle: { stage: "Launching", reason: r.REASON_CDI_MISSING, message },
    conditions: [deployed("False", r.REASON_CDI_MISSING, message)],
    event: { type: "Warning", reason: r.REASON_CDI_MISSING },
  };
}

/** Placed, but the VM is not created while KubeVirt cannot launch it; KubeVirtReady says what is missing. */
export function kubeVirtNotReady(nodeName: string, readiness: KubeVirtReadiness): StatusUpdate {
  const kubevirt = kubeVirtReadyCondition(readiness);
  const message = `waiting for KubeVirt: ${kubevirt.message}`;
  return {
    lifecycle: { stage: "Launching", reason: r.REASON_KUBEVIRT_NOT_READY, message },
    conditions: [hostValidated(nodeName), deployed("False", r.REASON_KUBEVIRT_NOT_READY, message), kubevirt],
    event: { type: "Warning", reason: r.REASON_KUBEVIRT_NOT_READY },
  };
}

export function relaunching(why: string): StatusUpdate {
  return {
    lifecycle: { stage: "Launching", reason: r.REASON_VM_RELAUNCHING, message: why },
    conditions: [deployed("False", r.REASON_VM_RELAUNCHING, why)],
    event: { type: "Normal", reason: r.REASON_VM_RELAUNCHING },
  };
}
