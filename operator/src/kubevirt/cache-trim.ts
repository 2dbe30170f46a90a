import type { KubernetesObject } from "@kubernetes/client-node";

type Loose = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

/**
 * The ConfidentialVM reconciler reads only a VM's metadata, runStrategy and GPU resource names (kept, so that a
 * running VM is re-rendered with the resources it was launched with), and a VMI's metadata, phase, node and
 * conditions (confidentialvm/lifecycle.ts vmState). The rest (domain, devices, volumes, cloud-init) would be most
 * of the controller's heap at a thousand CVMs, so the watch caches drop it.
 */
export function trimVirtualMachine(vm: Loose): void {
  const runStrategy = vm.spec?.["runStrategy"];
  const gpus = gpuDeviceNames(vm.spec);
  vm.spec = {
    ...(runStrategy === undefined ? {} : { runStrategy }),
    ...(gpus === undefined ? {} : { template: { spec: { domain: { devices: { gpus } } } } }),
  };
  delete vm.status;
}

function gpuDeviceNames(spec: Record<string, unknown> | undefined): { deviceName: unknown }[] | undefined {
  const template = spec?.["template"] as { spec?: { domain?: { devices?: { gpus?: unknown } } } } | undefined;
  const gpus = template?.spec?.domain?.devices?.gpus;
  if (!Array.isArray(gpus) || gpus.length === 0) return undefined;
  return gpus.map((gpu: { deviceName?: unknown }) => ({ deviceName: gpu.deviceName }));
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
