import type { ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import { LABEL_CONFIDENTIAL_VM, LABEL_VALIDATED } from "../api/v1alpha1/labels.ts";
import { gpuModelByName } from "../api/gpu-models.ts";
import type { V1GPU, V1Volume, VirtualMachine } from "./generated/types.ts";

/**
 * Where a ConfidentialVM was placed: a validated node and the GPUs reserved for it there, each with the device-plugin
 * resource the cluster serves it as (gpu-resource-names.ts); without one, the model's default name.
 */
export interface VmPlacement {
  nodeName: string;
  gpus: readonly { pciAddress: string; model: string; resourceName?: string }[];
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

function gpuDevices(placement: VmPlacement): V1GPU[] {
  return placement.gpus.map((gpu, index) => {
    const known = gpuModelByName(gpu.model);
    if (known === undefined) throw new VmBuildError(`GPU ${gpu.pciAddress} has unknown model ${gpu.model}`);
    return { name: `gpu${index}`, deviceName: gpu.resourceName ?? known.resourceName, tag: gpu.pciAddress };
  });
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
export function buildVirtualMachine(cvm: ConfidentialVM, placement: VmPlacement): VirtualMachine {
  const name = cvm.metadata.name;
  const uid = cvm.metadata.uid;
  if (name === undefined || uid === undefined)
    throw new VmBuildError("ConfidentialVM has no name or uid yet");
  if (placement.gpus.length !== (cvm.spec.gpus?.count ?? 0)) {
    throw new VmBuildError(
      `placement has ${placement.gpus.length} GPUs, spec.gpus.count is ${cvm.spec.gpus?.count ?? 0}`,
    );
  }
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
