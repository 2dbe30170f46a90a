import { gpuModelByDeviceId, NVIDIA_VENDOR_ID } from "../../api/gpu-models.ts";
import type {
  ConfidentialHostStatusGpu,
  ConfidentialHostStatusNvswitch,
} from "../../api/v1alpha1/generated/types.ts";
import { describeFailure, type HostRoot } from "../host-root.ts";
import { parseHex, valueOf } from "./read-helpers.ts";

export const PCI_DEVICES = "/sys/bus/pci/devices";
const IOMMU_GROUPS = "/sys/kernel/iommu_groups";
export const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const NVIDIA = Number.parseInt(NVIDIA_VENDOR_ID.slice(2), 16);
/** PCI base class + subclass: VGA controller, 3D controller, "other bridge" (NVSwitch), PCI bridge. */
const CLASS_VGA = 0x0300;
const CLASS_3D = 0x0302;
const CLASS_OTHER_BRIDGE = 0x0680;
const CLASS_PCI_BRIDGE = 0x0604;
/** What PCI config reads return when a device does not answer; used for an unreadable device ID. */
const NO_ANSWER_ID = "0xffff";
export const VFIO_DRIVER = "vfio-pci";

export interface NvidiaDevices {
  gpus: ConfidentialHostStatusGpu[];
  nvswitches: ConfidentialHostStatusNvswitch[];
  problems: string[];
}

const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, "0")}`;
const byAddress = (a: { pciAddress: string }, b: { pciAddress: string }) =>
  a.pciAddress < b.pciAddress ? -1 : a.pciAddress > b.pciAddress ? 1 : 0;

interface Common {
  pciAddress: string;
  vendorId: string;
  deviceId: string;
  driver?: string;
  iommuGroup?: string;
}

type Candidate = { kind: "gpu" | "nvswitch"; common: Common; model?: string } | { kind: "other" };

/** Driver name, `none` when unbound; undefined (with a problem) when the link is unreadable. */
export async function driverOf(host: HostRoot, bdf: string, problems: string[]): Promise<string | undefined> {
  const driver = await host.readLinkName(`${PCI_DEVICES}/${bdf}/driver`);
  if (driver.kind === "value") return driver.value;
  if (driver.kind === "missing") return "none";
  problems.push(`PCI device ${bdf}: ${describeFailure(driver)}`);
  return undefined;
}

async function readDevice(host: HostRoot, bdf: string, problems: string[]): Promise<Candidate> {
  const dir = `${PCI_DEVICES}/${bdf}`;
  const vendor = await host.readValue(`${dir}/vendor`, parseHex);
  if (vendor.kind !== "value") {
    problems.push(`PCI device ${bdf} skipped: ${describeFailure(vendor)}`);
    return { kind: "other" };
  }
  if (vendor.value !== NVIDIA) return { kind: "other" };

  const [pciClass, device, group] = await Promise.all([
    host.readValue(`${dir}/class`, parseHex),
    host.readValue(`${dir}/device`, parseHex),
    host.readLinkName(`${dir}/iommu_group`),
  ]);
  const deviceId = device.kind === "value" && device.value <= 0xffff ? hex4(device.value) : undefined;
  const baseClass = pciClass.kind === "value" ? pciClass.value >> 8 : undefined;
  const knownModel = deviceId === undefined ? undefined : gpuModelByDeviceId(deviceId);
  let kind: "gpu" | "nvswitch";
  if (baseClass === CLASS_OTHER_BRIDGE) kind = "nvswitch";
  else if (baseClass === CLASS_VGA || baseClass === CLASS_3D) kind = "gpu";
  else if (baseClass === undefined && knownModel !== undefined) {
    // An unreadable class on a device whose ID is a known GPU is still reported, so it is not lost.
    problems.push(`GPU ${bdf}: ${describeFailure(pciClass as Exclude<typeof pciClass, { kind: "value" }>)}`);
    kind = "gpu";
  } else {
    if (baseClass === undefined)
      problems.push(
        `PCI device ${bdf}: ${describeFailure(pciClass as Exclude<typeof pciClass, { kind: "value" }>)}`,
      );
    return { kind: "other" };
  }
  const what = kind === "gpu" ? "GPU" : "NVSwitch";

  if (deviceId === undefined)
    problems.push(
      device.kind === "value"
        ? `${what} ${bdf} device ID out of range`
        : `${what} ${bdf}: ${describeFailure(device)}; reported as ${NO_ANSWER_ID}`,
    );
  if (kind === "gpu" && knownModel === undefined && deviceId !== undefined)
    problems.push(`GPU ${bdf} device ${deviceId} is not a known CC-capable model`);
  const driverProblems: string[] = [];
  const driverName = await driverOf(host, bdf, driverProblems);
  problems.push(...driverProblems.map((p) => p.replace(`PCI device ${bdf}`, `${what} ${bdf}`)));
  let iommuGroup: string | undefined;
  if (group.kind === "value" && /^\d{1,6}$/.test(group.value)) iommuGroup = group.value;
  else if (group.kind === "missing") problems.push(`${what} ${bdf} has no IOMMU group`);
  else
    problems.push(
      `${what} ${bdf}: ${group.kind === "value" ? "iommu_group link malformed" : describeFailure(group)}`,
    );
  const common: Common = {
    pciAddress: bdf,
    vendorId: NVIDIA_VENDOR_ID,
    deviceId: deviceId ?? NO_ANSWER_ID,
    ...(driverName === undefined ? {} : { driver: driverName }),
    ...(iommuGroup === undefined ? {} : { iommuGroup }),
  };
  return kind === "gpu" && knownModel !== undefined
    ? { kind, common, model: knownModel.model }
    : { kind, common };
}

export interface GroupViability {
  viable?: boolean;
  blockers: string[];
}

/**
 * Whether an IOMMU group can be given to a VM: VFIO takes whole groups, so every other device in it
 * must be on vfio-pci too. PCI bridges are exempt (VFIO allows them bound to pcieport). A device on
 * no driver blocks as well: a host driver could claim it while the group is assigned.
 */
export async function groupViability(host: HostRoot, group: string, self: string): Promise<GroupViability> {
  const path = `${IOMMU_GROUPS}/${group}/devices`;
  const listing = await host.list(path);
  if (listing.kind !== "value") return { blockers: [describeFailure(listing)] };
  const blockers: string[] = [];
  for (const bdf of listing.value.filter((name) => name !== self)) {
    const pciClass = await host.readValue(`${PCI_DEVICES}/${bdf}/class`, parseHex);
    if (pciClass.kind === "value" && pciClass.value >> 8 === CLASS_PCI_BRIDGE) continue;
    const own: string[] = [];
    const driver = await driverOf(host, bdf, own);
    if (driver === VFIO_DRIVER) continue;
    blockers.push(`${bdf} (${driver ?? "unreadable driver"})`);
  }
  return { viable: blockers.length === 0, blockers: blockers.slice(0, 16) };
}

/** Every NVIDIA GPU and NVSwitch under /sys/bus/pci/devices, with driver, IOMMU group and its viability. */
export async function scanNvidiaDevices(host: HostRoot): Promise<NvidiaDevices> {
  const problems: string[] = [];
  const names = valueOf(await host.list(PCI_DEVICES), problems, true) ?? [];
  // Each device collects its own problems so their order does not depend on I/O timing.
  const scanned = await Promise.all(
    names
      .filter((name) => BDF.test(name))
      .map(async (bdf) => {
        const own: string[] = [];
        const candidate = await readDevice(host, bdf, own);
        if (candidate.kind === "other" || candidate.common.iommuGroup === undefined)
          return { candidate, problems: own };
        const viability = await groupViability(host, candidate.common.iommuGroup, bdf);
        const what = candidate.kind === "gpu" ? "GPU" : "NVSwitch";
        if (viability.viable === false)
          own.push(
            `${what} ${bdf} IOMMU group ${candidate.common.iommuGroup} is not viable: ${viability.blockers.join(", ")} not on ${VFIO_DRIVER}`,
          );
        else if (viability.viable === undefined)
          own.push(
            `${what} ${bdf} IOMMU group ${candidate.common.iommuGroup}: ${viability.blockers.join(", ")}`,
          );
        return { candidate, viability, problems: own };
      }),
  );
  const gpus: ConfidentialHostStatusGpu[] = [];
  const nvswitches: ConfidentialHostStatusNvswitch[] = [];
  for (const { candidate, viability, problems: own } of scanned) {
    problems.push(...own);
    if (candidate.kind === "other") continue;
    const group =
      viability?.viable === undefined
        ? {}
        : {
            iommuGroupViable: viability.viable,
            ...(viability.blockers.length > 0 ? { iommuGroupBlockers: viability.blockers } : {}),
          };
    // Fields in the CRD's order, so printed reports read naturally; modes are resolved later.
    const { pciAddress, vendorId, deviceId, driver, iommuGroup } = candidate.common;
    const head = { pciAddress, vendorId, deviceId };
    const tail = {
      ...(driver === undefined ? {} : { driver }),
      ...(iommuGroup === undefined ? {} : { iommuGroup }),
    };
    if (candidate.kind === "gpu")
      gpus.push({
        ...head,
        ...(candidate.model === undefined ? {} : { model: candidate.model }),
        ...tail,
        ccMode: "unknown",
        ...group,
      });
    else nvswitches.push({ ...head, ...tail, ...group, ppcieMode: "unknown" });
  }
  return { gpus: gpus.sort(byAddress), nvswitches: nvswitches.sort(byAddress), problems };
}
