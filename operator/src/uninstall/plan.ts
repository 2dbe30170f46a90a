// What `trustgate uninstall` does, decided from what is in the cluster: a pure function, so the dry run
// prints exactly the steps that --yes would take.

import { ANNOTATION_OWNED_LABELS, FINALIZER, LABEL_CONFIDENTIAL_VM } from "../api/v1alpha1/labels.ts";

/** The label and annotation prefix trustgate owns on Nodes. */
export const TRUSTGATE_PREFIX = "trustgate.io/";

/**
 * release: remove trustgate's finalizer and leave the ConfidentialVMs and their VMs running (deleting one later
 * deletes its VM through the owner reference). delete: delete every ConfidentialVM and its VirtualMachine.
 * Either way a ConfidentialVM already being deleted loses its VM and then its finalizer.
 */
export type ConfidentialVmMode = "release" | "delete";

export interface CvmFacts {
  namespace: string;
  name: string;
  uid: string;
  finalizers: string[];
  deleting: boolean;
}

export interface VmFacts {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ownerUids: string[];
  deleting: boolean;
}

export interface NodeFacts {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Inventory {
  cvms: CvmFacts[];
  vms: VmFacts[];
  nodes: NodeFacts[];
}

export type UninstallStep =
  | { kind: "stop-controller"; namespace: string; name: string }
  | { kind: "delete-cvm"; namespace: string; name: string }
  | { kind: "delete-vm"; namespace: string; name: string }
  | { kind: "remove-finalizer"; namespace: string; name: string; finalizers: string[] }
  | { kind: "unlabel-node"; name: string; labels: string[]; annotations: string[] };

export interface PlanOptions {
  mode: ConfidentialVmMode;
  /** The controller Deployment to scale to 0 first, so it neither relabels Nodes nor re-adds finalizers. */
  controller?: { namespace: string; name: string } | undefined;
}

const key = (o: { namespace: string; name: string }): string => `${o.namespace}/${o.name}`;

/** A VM is the ConfidentialVM's only when both the label and the owner reference say so. */
function ownedVm(cvm: CvmFacts, vms: ReadonlyMap<string, VmFacts>): VmFacts | undefined {
  const vm = vms.get(key(cvm));
  if (vm === undefined || vm.deleting) return undefined;
  if (vm.labels[LABEL_CONFIDENTIAL_VM] !== cvm.name || !vm.ownerUids.includes(cvm.uid)) return undefined;
  return vm;
}

/** The steps, in the order they must run: stop the controller, then ConfidentialVMs, then Nodes. */
export function planUninstall(inventory: Inventory, options: PlanOptions): UninstallStep[] {
  const steps: UninstallStep[] = [];
  if (options.controller !== undefined) steps.push({ kind: "stop-controller", ...options.controller });
  const vms = new Map(inventory.vms.map((vm) => [key(vm), vm]));
  const cvms = [...inventory.cvms].sort((a, b) => key(a).localeCompare(key(b)));
  for (const cvm of cvms) {
    const goes = cvm.deleting || options.mode === "delete";
    if (options.mode === "delete" && !cvm.deleting) {
      steps.push({ kind: "delete-cvm", namespace: cvm.namespace, name: cvm.name });
    }
    const vm = goes ? ownedVm(cvm, vms) : undefined;
    if (vm !== undefined) steps.push({ kind: "delete-vm", namespace: vm.namespace, name: vm.name });
    if (cvm.finalizers.includes(FINALIZER)) {
      steps.push({
        kind: "remove-finalizer",
        namespace: cvm.namespace,
        name: cvm.name,
        finalizers: cvm.finalizers,
      });
    }
  }
  for (const node of [...inventory.nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    const labels = Object.keys(node.labels)
      .filter((k) => k.startsWith(TRUSTGATE_PREFIX))
      .sort();
    const annotations = Object.keys(node.annotations).filter((k) => k === ANNOTATION_OWNED_LABELS);
    if (labels.length > 0 || annotations.length > 0) {
      steps.push({ kind: "unlabel-node", name: node.name, labels, annotations });
    }
  }
  return steps;
}

/** One line per step, as the dry run prints it. */
export function describeStep(step: UninstallStep): string {
  switch (step.kind) {
    case "stop-controller":
      return `scale Deployment ${key(step)} to 0 replicas and wait for its pods to go`;
    case "delete-cvm":
      return `delete ConfidentialVM ${key(step)}`;
    case "delete-vm":
      return `delete VirtualMachine ${key(step)} (owned by ConfidentialVM ${key(step)})`;
    case "remove-finalizer":
      return `remove finalizer ${FINALIZER} from ConfidentialVM ${key(step)}`;
    case "unlabel-node":
      return `remove ${[...step.labels, ...step.annotations.map((a) => `annotation ${a}`)].join(", ")} from Node ${step.name}`;
  }
}
