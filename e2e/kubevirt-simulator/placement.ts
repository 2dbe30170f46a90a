// TEST-ONLY: part of the KubeVirt simulator for integration tests and demos. Never shipped in the image.
import type { V1Node } from "@kubernetes/client-node";
import type { V1VirtualMachineInstanceSpec } from "../../operator/src/kubevirt/generated/types.ts";

export const HOSTNAME_LABEL = "kubernetes.io/hostname";

export type Placement = { nodeName: string } | { unschedulable: string };

/**
 * Where the virt-launcher pod of a VMI would land. Without `nodes`, the node named by the nodeSelector's
 * `kubernetes.io/hostname` is taken on trust. With `nodes`, the pick follows kube-scheduler's nodeSelector
 * filter: the node must exist, not be cordoned, and carry every selector label.
 */
export function placeInstance(spec: V1VirtualMachineInstanceSpec, nodes?: readonly V1Node[]): Placement {
  const selector = spec.nodeSelector ?? {};
  const hostname = selector[HOSTNAME_LABEL];
  if (nodes === undefined) {
    return hostname === undefined || hostname === ""
      ? { unschedulable: `the nodeSelector has no ${HOSTNAME_LABEL}` }
      : { nodeName: hostname };
  }
  const fits = nodes
    .filter((node) => node.spec?.unschedulable !== true && matchesSelector(node, selector))
    .map((node) => node.metadata?.name ?? "")
    .sort();
  const [nodeName] = fits;
  if (nodeName !== undefined) return { nodeName };
  return {
    unschedulable: `0/${nodes.length} nodes are available: none is schedulable and matches the nodeSelector ${JSON.stringify(selector)}`,
  };
}

function matchesSelector(node: V1Node, selector: Record<string, string>): boolean {
  // The kubelet labels every node with its hostname; synthetic test Nodes often lack the label.
  const labels: Record<string, string> = {
    [HOSTNAME_LABEL]: node.metadata?.name ?? "",
    ...node.metadata?.labels,
  };
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}
