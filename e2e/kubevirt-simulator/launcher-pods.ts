// TEST-ONLY: the virt-launcher pod virt-controller creates for each VMI, as an API object only (no kubelet runs it):
// KubeVirt's labels (kubevirt.io=virt-launcher, kubevirt.io/created-by=<VMI UID>, kubevirt.io/domain, the VMI's
// own labels), a controller ownerReference to the VMI, the node, and one container requesting the VMI's GPUs.
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { isNotFound } from "../../operator/src/kube/api-error.ts";
import type { VirtualMachineInstance } from "../../operator/src/kubevirt/generated/types.ts";

const CREATED_BY = "kubevirt.io/created-by";

/** `resourceName: count` for the VMI's GPUs (each gpus[] entry asks for one device of its deviceName). */
export function gpuRequests(vmi: VirtualMachineInstance): Record<string, string> {
  const counts: Record<string, number> = {};
  for (const { deviceName = "" } of vmi.spec.domain.devices.gpus ?? [])
    counts[deviceName] = (counts[deviceName] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).map(([name, count]) => [name, String(count)]));
}

export function launcherPod(vmi: VirtualMachineInstance): V1Pod {
  const { name = "", namespace = "", uid = "", labels = {} } = vmi.metadata ?? {};
  const gpus = gpuRequests(vmi);
  return {
    metadata: {
      generateName: `virt-launcher-${name}-`,
      namespace,
      labels: { ...labels, "kubevirt.io": "virt-launcher", [CREATED_BY]: uid, "kubevirt.io/domain": name },
      annotations: { "kubevirt.io/domain": name },
      ownerReferences: [
        {
          apiVersion: "kubevirt.io/v1",
          kind: "VirtualMachineInstance",
          name,
          uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      ...(vmi.status?.nodeName === undefined ? {} : { nodeName: vmi.status.nodeName }),
      containers: [{ name: "compute", image: "virt-launcher", resources: { requests: gpus, limits: gpus } }],
    },
  };
}

/** Creates each scheduled or running VMI's pod once, and deletes a VMI's pods when it ends or goes. */
export class LauncherPods {
  readonly #core: CoreV1Api;
  readonly #log: Logger;
  readonly #created = new Set<string>();

  constructor(core: CoreV1Api, log: Logger) {
    this.#core = core;
    this.#log = log;
  }

  async sync(vmi: VirtualMachineInstance): Promise<void> {
    const phase = vmi.status?.phase;
    if (phase === "Failed" || phase === "Succeeded") await this.remove(vmi);
    else if ((phase === "Scheduled" || phase === "Running") && vmi.status?.nodeName !== undefined)
      await this.#ensure(vmi);
  }

  async #ensure(vmi: VirtualMachineInstance): Promise<void> {
    const uid = vmi.metadata?.uid ?? "";
    const namespace = vmi.metadata?.namespace ?? "";
    if (this.#created.has(uid)) return;
    // Pods of earlier VMIs of this name (deleted directly, not through the simulator) go: no garbage collector here.
    const name = vmi.metadata?.name ?? "";
    const existing = await this.#core.listNamespacedPod({
      namespace,
      labelSelector: `kubevirt.io/domain=${name}`,
    });
    for (const stale of existing.items.filter((p) => p.metadata?.labels?.[CREATED_BY] !== uid))
      await this.#core
        .deleteNamespacedPod({ namespace, name: stale.metadata?.name ?? "", gracePeriodSeconds: 0 })
        .catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
    if (!existing.items.some((p) => p.metadata?.labels?.[CREATED_BY] === uid)) {
      const pod = await this.#core.createNamespacedPod({ namespace, body: launcherPod(vmi) });
      this.#log.info(
        { pod: `${namespace}/${pod.metadata?.name ?? ""}`, node: pod.spec?.nodeName },
        "Created virt-launcher pod",
      );
    }
    this.#created.add(uid);
  }

  async remove(vmi: VirtualMachineInstance): Promise<void> {
    const uid = vmi.metadata?.uid ?? "";
    const namespace = vmi.metadata?.namespace ?? "";
    this.#created.delete(uid);
    try {
      await this.#core.deleteCollectionNamespacedPod({
        namespace,
        labelSelector: `${CREATED_BY}=${uid}`,
        gracePeriodSeconds: 0,
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
