/**
 * NVIDIA GPUs trustgate knows by PCI device ID (vendor 0x10de; names from the public pci.ids list). `resourceName` is what NVIDIA's KubeVirt
 * GPU device plugin advertises: the pci.ids name upper-cased, with separators turned into underscores.
 */
export interface GpuModel {
  deviceId: string;
  model: string;
  resourceName: string;
  confidentialComputing: boolean;
}

export const NVIDIA_VENDOR_ID = "0x10de";

export const GPU_MODELS: readonly GpuModel[] = [
  {
    deviceId: "0x2330",
    model: "H100-SXM5-80GB",
    resourceName: "nvidia.com/GH100_H100_SXM5_80GB",
    confidentialComputing: true,
  },
  {
    deviceId: "0x2331",
    model: "H100-PCIe-80GB",
    resourceName: "nvidia.com/GH100_H100_PCIE",
    confidentialComputing: true,
  },
  {
    deviceId: "0x2321",
    model: "H100-NVL-94GB",
    resourceName: "nvidia.com/GH100_H100L_94GB",
    confidentialComputing: true,
  },
  {
    deviceId: "0x2324",
    model: "H800-SXM5-80GB",
    resourceName: "nvidia.com/GH100_H800",
    confidentialComputing: true,
  },
  {
    deviceId: "0x2322",
    model: "H800-PCIe-80GB",
    resourceName: "nvidia.com/GH100_H800_PCIE",
    confidentialComputing: true,
  },
  {
    deviceId: "0x2335",
    model: "H200-SXM-141GB",
    resourceName: "nvidia.com/GH100_H200_SXM_141GB",
    confidentialComputing: true,
  },
  {
    deviceId: "0x233b",
    model: "H200-NVL-141GB",
    resourceName: "nvidia.com/GH100_H200_NVL",
    confidentialComputing: true,
  },
  { deviceId: "0x2329", model: "H20", resourceName: "nvidia.com/GH100_H20", confidentialComputing: true },
  // More Hopper SKUs from the public pci.ids list (Hopper GPUs support CC mode).
  {
    deviceId: "0x2337",
    model: "H100-SXM5-64GB",
    resourceName: "nvidia.com/GH100_H100_SXM5_64GB",
    confidentialComputing: true,
  },
  {
    deviceId: "0x2338",
    model: "H100-SXM5-96GB",
    resourceName: "nvidia.com/GH100_H100_SXM5_96GB",
    confidentialComputing: true,
  },
  {
    deviceId: "0x2339",
    model: "H100-SXM5-94GB",
    resourceName: "nvidia.com/GH100_H100_SXM5_94GB",
    confidentialComputing: true,
  },
  {
    deviceId: "0x233d",
    model: "H100-96GB",
    resourceName: "nvidia.com/GH100_H100_96GB",
    confidentialComputing: true,
  },
  {
    deviceId: "0x232c",
    model: "H20-HBM3e",
    resourceName: "nvidia.com/GH100_H20_HBM3E",
    confidentialComputing: true,
  },
  { deviceId: "0x2901", model: "B200", resourceName: "nvidia.com/GB100_B200", confidentialComputing: true },
];

export function gpuModelByDeviceId(deviceId: string): GpuModel | undefined {
  const wanted = deviceId.toLowerCase();
  return GPU_MODELS.find((m) => m.deviceId === wanted);
}

export function gpuModelByName(model: string): GpuModel | undefined {
  return GPU_MODELS.find((m) => m.model === model);
}
