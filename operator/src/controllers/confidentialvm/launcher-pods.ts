import type { V1Pod } from "@kubernetes/client-node";
import { LABEL_CREATED_BY, LABEL_KUBEVIRT, type LauncherPod, VIRT_LAUNCHER } from "./gpu-allocation.ts";

/** The label selector of KubeVirt's virt-launcher pods. */
export const LAUNCHER_POD_SELECTOR = `${LABEL_KUBEVIRT}=${VIRT_LAUNCHER}`;

/** What the GPU allocation reads of a virt-launcher pod; the watch cache keeps nothing else (specs are large). */
export function launcherPodOf(pod: V1Pod): LauncherPod {
  const vmiUid = pod.metadata?.labels?.[LABEL_CREATED_BY];
  return {
    namespace: pod.metadata?.namespace ?? "",
    name: pod.metadata?.name ?? "",
    ...(pod.spec?.nodeName === undefined ? {} : { nodeName: pod.spec.nodeName }),
    ...(vmiUid === undefined ? {} : { vmiUid }),
  };
}

/** Trims a cached pod to its name, labels (for the CVM key and VMI UID) and node. */
export function trimLauncherPod(pod: V1Pod): void {
  const nodeName = pod.spec?.nodeName;
  pod.spec = { containers: [], ...(nodeName === undefined ? {} : { nodeName }) };
  delete pod.status;
  if (pod.metadata !== undefined) delete pod.metadata.annotations;
}
