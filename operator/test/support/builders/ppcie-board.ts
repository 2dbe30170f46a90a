/**
 * A validated HGX host whose board is in protected-PCIe mode: 8 H100 SXM5 GPUs and 4 LS10 NVSwitches, all on
 * vfio-pci. The NVSwitch list goes where operator/src/placement/host-board.ts reads it (`status.nvswitches`, the
 * field host validation is assumed to add; the generated ConfidentialHost type does not have it yet).
 */
import type { ConfidentialHost, ConfidentialHostStatus } from "../../../src/api/v1alpha1/generated/types.ts";
import type { HostNvSwitch } from "../../../src/placement/host-board.ts";
import { aConfidentialHost, anH100 } from "./confidential-host.ts";

export const BOARD_GPU_ADDRESSES = ["18", "2a", "3a", "5d", "9a", "ab", "ba", "db"].map(
  (b) => `0000:${b}:00.0`,
);
export const BOARD_NVSWITCH_ADDRESSES = ["05", "06", "07", "08"].map((b) => `0000:${b}:00.0`);

export const VALIDATED = [
  {
    type: "Validated",
    status: "True" as const,
    reason: "HostValid",
    message: "",
    lastTransitionTime: "2026-11-25T10:00:00Z",
  },
];

export function anLs10NvSwitch(pciAddress: string, overrides: Partial<HostNvSwitch> = {}): HostNvSwitch {
  return { pciAddress, deviceId: "0x22a3", driver: "vfio-pci", ppcieMode: "on", ...overrides };
}

/** A Validated PPCIe host: every GPU in ppcie mode, with `nvswitches` (default the board's four). */
export function aPpcieBoardHost(
  name = "hgx-1",
  overrides: {
    status?: Partial<ConfidentialHostStatus>;
    nvswitches?: HostNvSwitch[];
  } = {},
): ConfidentialHost {
  const host = aConfidentialHost(
    {
      gpus: BOARD_GPU_ADDRESSES.map((a) => anH100(a, { ccMode: "ppcie" })),
      gpuSummary: { total: 8, ccReady: 8 },
      conditions: VALIDATED,
      ...overrides.status,
    },
    name,
  );
  const nvswitches = overrides.nvswitches ?? BOARD_NVSWITCH_ADDRESSES.map((a) => anLs10NvSwitch(a));
  return { ...host, status: { ...host.status, nvswitches } as ConfidentialHostStatus };
}
