import { gpuModelByDeviceId, NVIDIA_VENDOR_ID } from "../../api/gpu-models.ts";
import type { ConfidentialHostStatusGpu } from "../../api/v1alpha1/generated/types.ts";
import { describeFailure, type HostRoot } from "../host-root.ts";
import { resolveCcModes, type GpuRef } from "./cc-mode/provider.ts";
import { parseHex, valueOf } from "./read-helpers.ts";
import type { Source, SourceOutput } from "./source.ts";

const PCI_DEVICES = "/sys/bus/pci/devices";
const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const NVIDIA = Number.parseInt(NVIDIA_VENDOR_ID.slice(2), 16);
/** PCI base class + subclass: VGA controller, 3D controller, and "other bridge" (NVSwitch). */
const CLASS_VGA = 0x0300;
const CLASS_3D = 0x0302;
const CLASS_OTHER_BRIDGE = 0x0680;
/** What PCI config reads return when a device does not answer; used for an unreadable device ID. */
const NO_ANSWER_ID = "0xffff";

export interface GpuFacts {
  gpus: ConfidentialHostStatusGpu[];
  nvswitches: number;
}

const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, "0")}`;

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

type Candidate = { kind: "gpu"; gpu: ConfidentialHostStatusGpu } | { kind: "nvswitch" } | { kind: "other" };

async function readDevice(host: HostRoot, bdf: string, problems: string[]): Promise<Candidate> {
  const dir = `${PCI_DEVICES}/${bdf}`;
  const vendor = await host.readValue(`${dir}/vendor`, parseHex);
  if (vendor.kind !== "value") {
    problems.push(`PCI device ${bdf} skipped: ${describeFailure(vendor)}`);
    return { kind: "other" };
  }
  if (vendor.value !== NVIDIA) return { kind: "other" };

  const [pciClass, device, driver, group] = await Promise.all([
    host.readValue(`${dir}/class`, parseHex),
    host.readValue(`${dir}/device`, parseHex),
    host.readLinkName(`${dir}/driver`),
    host.readLinkName(`${dir}/iommu_group`),
  ]);
  const deviceId = device.kind === "value" && device.value <= 0xffff ? hex4(device.value) : undefined;
  const baseClass = pciClass.kind === "value" ? pciClass.value >> 8 : undefined;
  if (baseClass === CLASS_OTHER_BRIDGE) return { kind: "nvswitch" };
  const knownModel = deviceId === undefined ? undefined : gpuModelByDeviceId(deviceId);
  if (baseClass === undefined) {
    // An unreadable class on a device whose ID is a known GPU is still reported, so it is not lost.
    problems.push(`GPU ${bdf}: ${describeFailure(pciClass as Exclude<typeof pciClass, { kind: "value" }>)}`);
    if (knownModel === undefined) return { kind: "other" };
  } else if (baseClass !== CLASS_VGA && baseClass !== CLASS_3D) return { kind: "other" };

  if (deviceId === undefined)
    problems.push(
      device.kind === "value"
        ? `GPU ${bdf} device ID out of range`
        : `GPU ${bdf}: ${describeFailure(device)}; reported as ${NO_ANSWER_ID}`,
    );
  if (knownModel === undefined && deviceId !== undefined)
    problems.push(`GPU ${bdf} device ${deviceId} is not a known CC-capable model`);
  let driverName: string | undefined;
  if (driver.kind === "value") driverName = driver.value;
  else if (driver.kind === "missing") driverName = "none";
  else problems.push(`GPU ${bdf}: ${describeFailure(driver)}`);
  let iommuGroup: string | undefined;
  if (group.kind === "value" && /^\d{1,6}$/.test(group.value)) iommuGroup = group.value;
  else if (group.kind === "missing") problems.push(`GPU ${bdf} has no IOMMU group`);
  else
    problems.push(
      `GPU ${bdf}: ${group.kind === "value" ? "iommu_group link malformed" : describeFailure(group)}`,
    );

  // Fields in the CRD's order, so printed reports read naturally; ccMode is resolved later.
  const gpu: ConfidentialHostStatusGpu = {
    pciAddress: bdf,
    vendorId: NVIDIA_VENDOR_ID,
    deviceId: deviceId ?? NO_ANSWER_ID,
    ...(knownModel === undefined ? {} : { model: knownModel.model }),
    ...(driverName === undefined ? {} : { driver: driverName }),
    ...(iommuGroup === undefined ? {} : { iommuGroup }),
    ccMode: "unknown",
  };
  return { kind: "gpu", gpu };
}

export const gpusSource: Source<GpuFacts> = {
  name: "gpus",
  async scan({ host, ccModeProviders }): Promise<SourceOutput<GpuFacts>> {
    const problems: string[] = [];
    const listing = await host.list(PCI_DEVICES);
    const names = valueOf(listing, problems, true) ?? [];
    // Each device collects its own problems so their order does not depend on I/O timing.
    const scanned = await Promise.all(
      names
        .filter((name) => BDF.test(name))
        .map(async (bdf) => {
          const own: string[] = [];
          return { candidate: await readDevice(host, bdf, own), problems: own };
        }),
    );
    for (const device of scanned) problems.push(...device.problems);
    const candidates = scanned.map((device) => device.candidate);
    const gpus = candidates
      .flatMap((c) => (c.kind === "gpu" ? [c.gpu] : []))
      .sort((a, b) => (a.pciAddress < b.pciAddress ? -1 : a.pciAddress > b.pciAddress ? 1 : 0));
    const nvswitches = candidates.filter((c) => c.kind === "nvswitch").length;

    const refs: GpuRef[] = gpus.map((g) => ({
      pciAddress: g.pciAddress,
      deviceId: g.deviceId,
      driver: g.driver ?? "unknown",
    }));
    const { modes, problems: ccProblems } = await resolveCcModes(ccModeProviders, refs, host);
    problems.push(...ccProblems);
    const sources = new Map<string, number>();
    const vbiosProblems = await Promise.all(
      gpus.map(async (gpu) => {
        const own: string[] = [];
        const resolved = modes.get(gpu.pciAddress);
        gpu.ccMode = resolved?.mode ?? "unknown";
        if (resolved?.source !== undefined)
          sources.set(resolved.source, (sources.get(resolved.source) ?? 0) + 1);
        const vbios = gpu.driver === "nvidia" ? await driverVbios(host, gpu.pciAddress, own) : undefined;
        const version = vbios ?? resolved?.vbiosVersion;
        if (version !== undefined) gpu.vbiosVersion = version;
        return own;
      }),
    );
    problems.push(...vbiosProblems.flat());
    const details: Record<string, string> = {};
    if (nvswitches > 0) details["nvswitches"] = String(nvswitches);
    if (sources.size > 0)
      details["ccModeSources"] = [...sources]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([source, count]) => `${source}=${count}`)
        .join(" ");
    return { facts: { gpus, nvswitches }, details, problems };
  },
};
