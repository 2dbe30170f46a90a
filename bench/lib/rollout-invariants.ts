// What must hold after a rollout that faults interrupted (bench/chaos-*.ts and their short versions in e2e/):
// every CVM converged, one VirtualMachine per CVM, no object a CVM owns left behind without that CVM, and no host
// GPU given to two CVMs. Pure: it judges the objects listed at the end of the run.
import type { ConfidentialVM } from "../../operator/src/api/v1alpha1/generated/types.ts";
import { LABEL_CONFIDENTIAL_VM } from "../../operator/src/api/v1alpha1/labels.ts";

/** The metadata of an object the controller creates for a CVM (VirtualMachine, Secret, ServiceAccount, ...). */
export interface OwnedObject {
  kind: string;
  metadata: {
    name?: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string }[];
  };
}

export interface RolloutInvariants {
  /** CVMs not Attested. */
  notConverged: string[];
  /** "<cvm>: <vm>, <vm>" for each CVM with more than one VirtualMachine. */
  duplicateVms: string[];
  /** "<Kind>/<name>: <why>" for objects whose CVM is gone or that their CVM does not use. */
  orphans: string[];
  /** "<node>/<gpu>: <cvm>, <cvm>" for each host GPU two CVMs hold; "<node>: N GPUs > capacity" for overbooking. */
  doubleAssignedGpus: string[];
}

export function isAttestedCvm(cvm: ConfidentialVM): boolean {
  return cvm.status?.conditions?.some((c) => c.type === "Attested" && c.status === "True") ?? false;
}

/** The CVM an object belongs to: its ConfidentialVM ownerReference, else its trustgate.io/confidentialvm label. */
function claimedCvm(object: OwnedObject): { name: string; uid?: string } | undefined {
  const owner = object.metadata.ownerReferences?.find((o) => o.kind === "ConfidentialVM");
  if (owner !== undefined) return { name: owner.name, uid: owner.uid };
  const label = object.metadata.labels?.[LABEL_CONFIDENTIAL_VM];
  return label === undefined ? undefined : { name: label };
}

function orphanReason(object: OwnedObject, cvms: Map<string, ConfidentialVM>): string | undefined {
  const claim = claimedCvm(object);
  if (claim === undefined) return undefined;
  const cvm = cvms.get(claim.name);
  if (cvm === undefined) return `its ConfidentialVM ${claim.name} is gone`;
  if (claim.uid !== undefined && claim.uid !== cvm.metadata.uid)
    return `owned by an earlier ConfidentialVM ${claim.name} (uid ${claim.uid})`;
  if (claim.uid === undefined) return `labelled for ${claim.name} but not owned by it`;
  const label = object.metadata.labels?.[LABEL_CONFIDENTIAL_VM];
  if (label !== undefined && label !== claim.name) return `owned by ${claim.name} but labelled for ${label}`;
  if (
    object.kind === "VirtualMachine" &&
    cvm.status?.vmName !== undefined &&
    cvm.status.vmName !== object.metadata.name
  )
    return `${claim.name} runs VirtualMachine ${cvm.status.vmName}, not this one`;
  return undefined;
}

/** Host GPUs held by more than one CVM, by PCI address where the status names it, and by count per host. */
function doubleAssigned(cvms: readonly ConfidentialVM[], gpusPerHost: number): string[] {
  const holders = new Map<string, string[]>();
  const countByNode = new Map<string, number>();
  for (const cvm of cvms) {
    const node = cvm.status?.nodeName;
    const gpus = cvm.status?.gpus ?? [];
    if (node === undefined || gpus.length === 0) continue;
    countByNode.set(node, (countByNode.get(node) ?? 0) + gpus.length);
    for (const gpu of gpus) {
      if (gpu.pciAddress === undefined) continue;
      const key = `${node}/${gpu.pciAddress}`;
      holders.set(key, [...(holders.get(key) ?? []), cvm.metadata.name ?? ""]);
    }
  }
  const problems = [...holders]
    .filter(([, names]) => names.length > 1)
    .map(([key, names]) => `${key}: ${names.join(", ")}`);
  for (const [node, count] of countByNode) {
    if (count > gpusPerHost)
      problems.push(`${node}: ${String(count)} GPUs placed > ${String(gpusPerHost)} on the host`);
  }
  return problems.sort();
}

export function checkRolloutInvariants(input: {
  cvms: readonly ConfidentialVM[];
  virtualMachines: readonly OwnedObject[];
  /** Secrets, ServiceAccounts, Roles, RoleBindings (and anything else) of the CVMs' namespace. */
  otherObjects: readonly OwnedObject[];
  gpusPerHost: number;
}): RolloutInvariants {
  const byName = new Map(input.cvms.map((cvm) => [cvm.metadata.name ?? "", cvm]));
  const vmsPerCvm = new Map<string, string[]>();
  for (const vm of input.virtualMachines) {
    const claim = claimedCvm(vm);
    if (claim === undefined) continue;
    vmsPerCvm.set(claim.name, [...(vmsPerCvm.get(claim.name) ?? []), vm.metadata.name ?? ""]);
  }
  const orphans: string[] = [];
  for (const object of [...input.virtualMachines, ...input.otherObjects]) {
    const why = orphanReason(object, byName);
    if (why !== undefined) orphans.push(`${object.kind}/${object.metadata.name ?? ""}: ${why}`);
  }
  return {
    notConverged: input.cvms.filter((cvm) => !isAttestedCvm(cvm)).map((cvm) => cvm.metadata.name ?? ""),
    duplicateVms: [...vmsPerCvm]
      .filter(([, vms]) => vms.length > 1)
      .map(([cvm, vms]) => `${cvm}: ${vms.sort().join(", ")}`),
    orphans: orphans.sort(),
    doubleAssignedGpus: doubleAssigned(input.cvms, input.gpusPerHost),
  };
}

/** Each broken invariant as one line; empty when all hold. */
export function invariantFailures(result: RolloutInvariants): string[] {
  const lines: string[] = [];
  const add = (what: string, items: string[]): void => {
    if (items.length === 0) return;
    const shown = items.slice(0, 5).join("; ");
    lines.push(`${String(items.length)} ${what}: ${shown}${items.length > 5 ? "; ..." : ""}`);
  };
  add("CVMs not Attested", result.notConverged);
  add("CVMs with duplicate VirtualMachines", result.duplicateVms);
  add("orphaned objects", result.orphans);
  add("GPUs double-assigned", result.doubleAssignedGpus);
  return lines;
}
