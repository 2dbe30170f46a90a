import { GPU_MODELS, gpuModelByName } from "../api/gpu-models.ts";
import type { V1PciHostDevice } from "./generated/types.ts";

/**
 * The device-plugin resource a VirtualMachine requests for a GPU (`devices.gpus[].deviceName`). The cluster says
 * which it is: KubeVirt's permittedHostDevices maps a PCI vendor:device selector to the resource name that the
 * device plugin (NVIDIA's sandbox device plugin, externalResourceProvider) advertises. Only when KubeVirt lists no
 * entry for the GPU does the default apply: NVIDIA's naming for the models trustgate knows, or an operator's
 * `--gpu-resource-name 10de:2330=<name>`. The host report's vendor and device IDs are host-asserted; a host that
 * lies about them gets a VM asking for another resource, and the guest's GPU evidence still decides.
 */

/** `vendor:device` → resource name, as `--gpu-resource-name` and the built-in table give it. */
export type GpuResourceDefaults = ReadonlyMap<string, string>;

export interface GpuIdentity {
  /** Known once the host reports the allocation (or for a whole PPCIe board). */
  pciAddress?: string;
  model: string;
  /** From the host report, e.g. 0x10de / 0x2330; the model's table entry when the host does not say. */
  vendorId?: string;
  deviceId?: string;
}

export type ResolvedGpuResource =
  | { resourceName: string; source: "permittedHostDevices" | "default" }
  | { resourceName: undefined; message: string };

const SELECTOR = /^[0-9a-f]{4}:[0-9a-f]{4}$/;
const RESOURCE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** `0x10de`, `0x2330` → `10de:2330`, the form of KubeVirt's pciVendorSelector (compared case-insensitively). */
export function pciSelector(vendorId: string, deviceId: string): string {
  const hex = (id: string): string => id.toLowerCase().replace(/^0x/, "");
  return `${hex(vendorId)}:${hex(deviceId)}`;
}

/** The built-in defaults (NVIDIA's device-plugin names of the known models), overridden by `vendor:device=name` flags. */
export function gpuResourceDefaults(overrides: readonly string[] = []): Map<string, string> {
  const defaults = new Map(GPU_MODELS.map((m) => [pciSelector("0x10de", m.deviceId), m.resourceName]));
  for (const flag of overrides) {
    const [selector = "", name = "", ...rest] = flag.split("=");
    const key = selector.toLowerCase();
    if (!SELECTOR.test(key) || !RESOURCE_NAME.test(name) || rest.length > 0)
      throw new Error(
        `--gpu-resource-name ${JSON.stringify(flag)}: want <vendor>:<device>=<resource>, e.g. 10de:2330=nvidia.com/GH100_H100_SXM5_80GB`,
      );
    defaults.set(key, name);
  }
  return defaults;
}

function selectorOf(gpu: GpuIdentity): string | undefined {
  if (gpu.vendorId !== undefined && gpu.deviceId !== undefined)
    return pciSelector(gpu.vendorId, gpu.deviceId);
  const known = gpuModelByName(gpu.model);
  return known === undefined ? undefined : pciSelector("0x10de", known.deviceId);
}

/**
 * The resource name for one GPU: the permittedHostDevices entry for its vendor:device (several: the one the Node
 * advertises, then one with an external provider), else the default for it.
 */
export function resolveGpuResource(
  gpu: GpuIdentity,
  sources: {
    permitted: readonly V1PciHostDevice[];
    /** The Node's allocatable resources, when known. */
    allocatable?: Readonly<Record<string, string>>;
    defaults: GpuResourceDefaults;
  },
): ResolvedGpuResource {
  const selector = selectorOf(gpu);
  if (selector === undefined)
    return {
      resourceName: undefined,
      message: `GPU ${gpu.pciAddress === undefined ? `of model ${gpu.model}` : `${gpu.pciAddress} (${gpu.model})`} has no PCI vendor and device ID to find its resource name by`,
    };
  const advertised = (name: string): boolean => Number(sources.allocatable?.[name] ?? 0) > 0;
  const matches = sources.permitted.filter((d) => d.pciVendorSelector.toLowerCase() === selector);
  const permitted =
    matches.find((d) => advertised(d.resourceName)) ??
    matches.find((d) => d.externalResourceProvider === true) ??
    matches[0];
  if (permitted !== undefined)
    return { resourceName: permitted.resourceName, source: "permittedHostDevices" };
  const fallback = sources.defaults.get(selector);
  if (fallback !== undefined) return { resourceName: fallback, source: "default" };
  return {
    resourceName: undefined,
    message: `GPU ${gpu.pciAddress ?? gpu.model} (${selector}) is in neither KubeVirt's permittedHostDevices nor the default resource names (--gpu-resource-name)`,
  };
}
