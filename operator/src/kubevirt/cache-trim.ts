import type { KubernetesObject } from "@kubernetes/client-node";

type Loose = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

/**
 * The ConfidentialVM reconciler reads only a VM's metadata and runStrategy, and a VMI's metadata, phase,
 * node and conditions (confidentialvm/lifecycle.ts vmState). The rest (domain, devices, volumes,
 * cloud-init) would be most of the controller's heap at a thousand CVMs, so the watch caches drop it.
 */
export function trimVirtualMachine(vm: Loose): void {
  const runStrategy = vm.spec?.["runStrategy"];
  vm.spec = runStrategy === undefined ? {} : { runStrategy };
  delete vm.status;
}

export function trimVirtualMachineInstance(vmi: Loose): void {
  delete vmi.spec;
  const status = vmi.status;
  if (status === undefined) return;
  vmi.status = {};
  for (const key of ["phase", "nodeName", "conditions"]) {
    if (status[key] !== undefined) vmi.status[key] = status[key];
  }
}
