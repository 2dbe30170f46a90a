import type { V1Node } from "@kubernetes/client-node";
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import * as r from "../../api/v1alpha1/confidential-vm-conditions.ts";
import type { VirtualMachine } from "../../kubevirt/generated/types.ts";
import {
  activeKubeVirt,
  clusterFindings,
  type Finding,
  type KubeVirtApi,
  nodeFindings,
} from "../../kubevirt/preflight.ts";
import type { DesiredCondition } from "../../runtime/conditions.ts";

export interface KubeVirtReadinessInput {
  api: KubeVirtApi;
  cvm: ConfidentialVM;
  /** The VirtualMachine the CVM renders to on its placement; undefined before placement. */
  vm?: VirtualMachine;
  /** The placed-on Node (undefined `node`: not in the cache); undefined before placement. */
  host?: { name: string; node: V1Node | undefined };
  /** Whether CDI's DataVolume API is served; undefined when not known. */
  dataVolumeApi?: boolean;
}

export interface KubeVirtReadiness {
  ready: boolean;
  /** The Node checked too, when the CVM is placed. */
  node?: string;
  /** Each thing KubeVirt lacks for this VM, in check order; empty when ready. */
  reasons: Finding[];
}

/** Device resources a VirtualMachine requests (GPUs and host devices by deviceName) and how many of each. */
export function requestedDevices(vm: VirtualMachine | undefined): Map<string, number> {
  const devices = vm?.spec.template.spec?.domain.devices;
  const counts = new Map<string, number>();
  for (const device of [...(devices?.gpus ?? []), ...(devices?.hostDevices ?? [])])
    if (device.deviceName !== undefined)
      counts.set(device.deviceName, (counts.get(device.deviceName) ?? 0) + 1);
  return counts;
}

/**
 * Whether KubeVirt can launch this ConfidentialVM's VirtualMachine: the cluster's KubeVirt (installed, deployed,
 * the TEE's feature gate, QGS for TDX, every requested device permitted with an external provider, CDI for http
 * images) and, once placed, the chosen Node (KubeVirt's labels and devices). Pure: the caller reads the caches.
 */
export function kubeVirtReadiness(input: KubeVirtReadinessInput): KubeVirtReadiness {
  const { api, cvm, vm, host } = input;
  const devices = requestedDevices(vm);
  const reasons = clusterFindings({
    api,
    tee: cvm.spec.tee,
    deviceResources: [...devices.keys()],
    usesHostDevices: (vm?.spec.template.spec?.domain.devices.hostDevices ?? []).length > 0,
    needsCdi: cvm.spec.image.http !== undefined,
    ...(input.dataVolumeApi === undefined ? {} : { dataVolumeApi: input.dataVolumeApi }),
  });
  const kubevirt = api.state === "synced" ? activeKubeVirt(api.kubevirts) : undefined;
  if (host !== undefined && kubevirt !== undefined)
    reasons.push(
      ...nodeFindings({ nodeName: host.name, node: host.node, tee: cvm.spec.tee, kubevirt, devices }),
    );
  return { ready: reasons.length === 0, reasons, ...(host === undefined ? {} : { node: host.name }) };
}

/** The KubeVirtReady condition: the first finding's reason, every finding in the message. */
export function kubeVirtReadyCondition(readiness: KubeVirtReadiness): DesiredCondition {
  const [first] = readiness.reasons;
  if (first === undefined)
    return {
      type: r.CONDITION_KUBEVIRT_READY,
      status: "True",
      reason: r.REASON_KUBEVIRT_READY,
      message:
        readiness.node === undefined
          ? "the cluster's KubeVirt can launch this VM (its Node is checked once it is placed)"
          : `KubeVirt can launch this VM on ${readiness.node}`,
    };
  return {
    type: r.CONDITION_KUBEVIRT_READY,
    status: "False",
    reason: first.reason,
    message: readiness.reasons.map((f) => f.message).join("; "),
  };
}
