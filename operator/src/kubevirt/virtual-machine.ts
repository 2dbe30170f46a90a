import type { ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import { LABEL_CONFIDENTIAL_VM, LABEL_VALIDATED } from "../api/v1alpha1/labels.ts";
import { gpuModelByName } from "../api/gpu-models.ts";
import { placementMismatch } from "../placement/gpu-request.ts";
import type { V1GPU, V1HostDevice, V1Volume, VirtualMachine } from "./generated/types.ts";

/**
 * Where a ConfidentialVM was placed: a validated node and one entry per GPU it gets there (and a PPCIe board's
 * NVSwitches). In CC mode the kubelet's device plugin picks the GPUs, so `pciAddress` is known only once the host
 * reports the allocation; rendering uses the models only.
 */
export interface VmPlacement {
  nodeName: string;
  /** Each with the device-plugin resource the cluster serves it as (gpu-resource-names.ts); else the model's default. */
  gpus: readonly { pciAddress?: string; model: string; resourceName?: string }[];
  nvswitches?: readonly { pciAddress: string }[];
}

/**
 * The resource NVIDIA's KubeVirt GPU device plugin advertises for the HGX H100/H200 NVSwitch (LS10, PCI 10de:22a3):
 * like the GPUs', its pci.ids name ("GH100 [H100 NVSwitch]") upper-cased, separators as underscores.
 */
export const DEFAULT_NVSWITCH_RESOURCE_NAME = "nvidia.com/GH100_H100_NVSWITCH";

export interface VmRenderOptions {
  /** The NVSwitch resource name on the cluster's nodes; default DEFAULT_NVSWITCH_RESOURCE_NAME. */
  nvswitchResourceName?: string;
}

export const ROOT_DISK = "root";
export const GUEST_CONFIG_DISK = "guest-config";

/** Name of the Secret holding the guest sidecar's cloud-init (API server, CA, token, CVM name). */
export function guestConfigSecretName(cvmName: string): string {
  return `${cvmName}-guest-config`;
}

/** Name of the DataVolume an http image is imported into (KubeVirt's embedded CDI types drop `checksum`). */
export function rootDataVolumeName(cvmName: string): string {
  return `${cvmName}-root`;
}

export class VmBuildError extends Error {}

/** One GPU of the model's device-plugin resource per entry; no `tag`: it is guest metadata, not a device choice. */
function gpuDevices(placement: VmPlacement): V1GPU[] {
  return placement.gpus.map((gpu, index) => {
    const known = gpuModelByName(gpu.model);
    if (known === undefined) throw new VmBuildError(`GPU ${index} has unknown model ${gpu.model}`);
    return { name: `gpu${index}`, deviceName: gpu.resourceName ?? known.resourceName };
  });
}

/** A PPCIe board's NVSwitches are PCI host devices, not GPUs (KubeVirt's HostDevices feature gate). */
function nvswitchDevices(placement: VmPlacement, options: VmRenderOptions): V1HostDevice[] {
  const deviceName = options.nvswitchResourceName ?? DEFAULT_NVSWITCH_RESOURCE_NAME;
  return (placement.nvswitches ?? []).map((_, index) => ({ name: `nvswitch${index}`, deviceName }));
}

function rootVolume(cvm: ConfidentialVM): V1Volume {
  const image = cvm.spec.image;
  if (image.containerDisk !== undefined) {
    return {
      name: ROOT_DISK,
      containerDisk: { image: image.containerDisk, imagePullPolicy: "IfNotPresent" },
    };
  }
  if (image.http !== undefined) {
    return { name: ROOT_DISK, dataVolume: { name: rootDataVolumeName(cvm.metadata.name ?? "") } };
  }
  throw new VmBuildError("spec.image has neither containerDisk nor http");
}

/**
 * The KubeVirt VirtualMachine for a ConfidentialVM placed on a validated node. TDX and SNP guests boot
 * stateless UEFI (no persistent NVRAM, no SMM for TDX) and are never live-migrated.
 */
export function buildVirtualMachine(
  cvm: ConfidentialVM,
  placement: VmPlacement,
  options: VmRenderOptions = {},
): VirtualMachine {
  const name = cvm.metadata.name;
  const uid = cvm.metadata.uid;
  if (name === undefined || uid === undefined)
    throw new VmBuildError("ConfidentialVM has no name or uid yet");
  const mismatch = placementMismatch(cvm, placement);
  if (mismatch !== undefined) throw new VmBuildError(mismatch);
  const nvswitches = nvswitchDevices(placement, options);
  const labels = { [LABEL_CONFIDENTIAL_VM]: name };
  const tdx = cvm.spec.tee === "tdx";
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachine",
    metadata: {
      name,
      namespace: cvm.metadata.namespace,
      labels,
      ownerReferences: [
        { apiVersion: cvm.apiVersion, kind: cvm.kind, name, uid, controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      runStrategy: cvm.spec.runStrategy ?? "Always",
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          nodeSelector: {
            ...cvm.spec.nodeSelector,
            "kubernetes.io/hostname": placement.nodeName,
            [LABEL_VALIDATED]: "true",
          },
          evictionStrategy: "None",
          domain: {
            launchSecurity: tdx ? { tdx: {} } : { snp: {} },
            firmware: { bootloader: { efi: { secureBoot: false, persistent: false } } },
            features: tdx ? { smm: { enabled: false } } : {},
            cpu: { cores: cvm.spec.resources?.cpu ?? 4 },
            memory: { guest: cvm.spec.resources?.memory ?? "16Gi" },
            devices: {
              autoattachGraphicsDevice: false,
              disks: [
                { name: ROOT_DISK, disk: { bus: "virtio" } },
                { name: GUEST_CONFIG_DISK, disk: { bus: "virtio" } },
              ],
              gpus: gpuDevices(placement),
              ...(nvswitches.length === 0 ? {} : { hostDevices: nvswitches }),
            },
          },
          volumes: [
            rootVolume(cvm),
            {
              name: GUEST_CONFIG_DISK,
              cloudInitNoCloud: { secretRef: { name: guestConfigSecretName(name) } },
            },
          ],
        },
      },
    },
  };
}
