import type {
  ConfidentialHostStatusGpu,
  ConfidentialHostStatusNvswitch,
} from "../../api/v1alpha1/generated/types.ts";
import type { HostRoot } from "../host-root.ts";
import { resolveCcModes, type CcModeSourceName, type DeviceRef } from "./cc-mode/provider.ts";
import { scanNvidiaDevices } from "./nvidia-devices.ts";
import { valueOf } from "./read-helpers.ts";
import type { Source, SourceOutput } from "./source.ts";

export interface GpuFacts {
  gpus: ConfidentialHostStatusGpu[];
  nvswitches: ConfidentialHostStatusNvswitch[];
  ccModeSource: CcModeSourceName | "none";
}

/** "Video BIOS:  96.00.9f.00.01" in the NVIDIA driver's per-GPU proc file. */
async function driverVbios(host: HostRoot, bdf: string, problems: string[]): Promise<string | undefined> {
  const path = `/proc/driver/nvidia/gpus/${bdf}/information`;
  const text = valueOf(await host.readText(path), problems, true);
  if (text === undefined) return undefined;
  const line = /^Video BIOS:\s*(\S+)\s*$/m.exec(text)?.[1];
  if (line !== undefined && /^[0-9a-fA-F]{2}(\.[0-9a-fA-F]{2}){4}$/.test(line)) return line.toUpperCase();
  // "??.??.??.??.??" until the driver has initialised the GPU.
  problems.push(
    line === undefined
      ? `${path} malformed: no Video BIOS line`
      : `${path} has no VBIOS version yet (${line})`,
  );
  return undefined;
}

export const gpusSource: Source<GpuFacts> = {
  name: "gpus",
  async scan({ host, ccModeProviders }): Promise<SourceOutput<GpuFacts>> {
    const found = await scanNvidiaDevices(host);
    const problems = [...found.problems];
    const refs: DeviceRef[] = [
      ...found.gpus.map((g) => ({
        pciAddress: g.pciAddress,
        kind: "gpu" as const,
        driver: g.driver ?? "unknown",
      })),
      ...found.nvswitches.map((s) => ({
        pciAddress: s.pciAddress,
        kind: "nvswitch" as const,
        driver: s.driver ?? "unknown",
      })),
    ];
    const resolved = await resolveCcModes(ccModeProviders, refs, host);
    problems.push(...resolved.problems);
    const scanned = await Promise.all(
      found.gpus.map(async (gpu) => {
        const own: string[] = [];
        const mode = resolved.gpus.get(gpu.pciAddress);
        const vbios = gpu.driver === "nvidia" ? await driverVbios(host, gpu.pciAddress, own) : undefined;
        const version = vbios ?? mode?.vbiosVersion;
        const { iommuGroupViable, iommuGroupBlockers, ...head } = gpu;
        // Rebuilt in the CRD's field order, so printed reports read naturally.
        const out: ConfidentialHostStatusGpu = {
          ...head,
          ccMode: mode?.mode ?? "unknown",
          ...(version === undefined ? {} : { vbiosVersion: version }),
          ...(iommuGroupViable === undefined ? {} : { iommuGroupViable }),
          ...(iommuGroupBlockers === undefined ? {} : { iommuGroupBlockers }),
        };
        return { gpu: out, problems: own };
      }),
    );
    for (const { problems: own } of scanned) problems.push(...own);
    const nvswitches = found.nvswitches.map((s) => ({
      ...s,
      ppcieMode: resolved.nvswitches.get(s.pciAddress) ?? "unknown",
    }));
    return {
      facts: { gpus: scanned.map((s) => s.gpu), nvswitches, ccModeSource: resolved.source },
      problems,
    };
  },
};
