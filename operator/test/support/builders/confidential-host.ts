import type {
  ConfidentialHost,
  ConfidentialHostStatus,
  ConfidentialHostStatusGpu,
} from "../../../src/api/v1alpha1/generated/types.ts";

export function anH100(
  pciAddress: string,
  overrides: Partial<ConfidentialHostStatusGpu> = {},
): ConfidentialHostStatusGpu {
  return {
    pciAddress,
    vendorId: "0x10de",
    deviceId: "0x2330",
    model: "H100-SXM5-80GB",
    driver: "vfio-pci",
    iommuGroup: "41",
    ccMode: "on",
    vbiosVersion: "96.00.9F.00.01",
    iommuGroupViable: true,
    ...overrides,
  };
}

/** A validated-looking TDX host with two H100s, observed at `observedAt`; status fields overridable. */
export function aConfidentialHost(
  status: Partial<ConfidentialHostStatus> = {},
  name = "gpu-node-1",
  annotations: Record<string, string> = {},
): ConfidentialHost {
  return {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "ConfidentialHost",
    metadata: { name, annotations, generation: 1 },
    spec: {},
    status: {
      observedAt: "2026-11-25T10:00:00Z",
      agentVersion: "0.1.0",
      platform: { cpuVendor: "intel", biosVersion: "2.1", microcode: "0x2b000603" },
      tee: { type: "tdx", enabled: true, moduleVersion: "1.5.06.00.0744" },
      iommu: { enabled: true, vfioLoaded: true },
      gpus: [anH100("0000:19:00.0"), anH100("0000:3b:00.0")],
      gpuSummary: { total: 2, ccReady: 2 },
      report: { jws: "h.p.s", keyId: "key-1", publicKey: { kty: "EC", crv: "P-256", x: "x", y: "y" } },
      ...status,
    },
  };
}
