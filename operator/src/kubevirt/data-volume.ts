import type { ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import { LABEL_CONFIDENTIAL_VM } from "../api/v1alpha1/labels.ts";
import { rootDataVolumeName, VmBuildError } from "./virtual-machine.ts";

export const CDI_DATA_VOLUMES = {
  group: "cdi.kubevirt.io",
  version: "v1beta1",
  plural: "datavolumes",
} as const;

/** The parts of CDI's DataVolume trustgate writes (CDI is not part of the pinned KubeVirt spec). */
export interface DataVolume {
  apiVersion: "cdi.kubevirt.io/v1beta1";
  kind: "DataVolume";
  metadata: {
    name: string;
    namespace?: string;
    labels: Record<string, string>;
    ownerReferences: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller: boolean;
      blockOwnerDeletion: boolean;
    }[];
  };
  spec: {
    source: { http: { url: string; checksum: string } };
    storage: { accessModes: string[]; resources: { requests: { storage: string | number } } };
    contentType: "kubevirt";
  };
}

/**
 * A standalone DataVolume importing an http image with its sha256 checked by CDI (>= v1.65). KubeVirt's
 * embedded CDI types would silently drop `checksum` from a VM's dataVolumeTemplates, hence standalone.
 */
export function buildRootDataVolume(cvm: ConfidentialVM): DataVolume {
  const http = cvm.spec.image.http;
  const name = cvm.metadata.name;
  const uid = cvm.metadata.uid;
  if (http === undefined) throw new VmBuildError("spec.image has no http source");
  if (name === undefined || uid === undefined)
    throw new VmBuildError("ConfidentialVM has no name or uid yet");
  return {
    apiVersion: "cdi.kubevirt.io/v1beta1",
    kind: "DataVolume",
    metadata: {
      name: rootDataVolumeName(name),
      ...(cvm.metadata.namespace === undefined ? {} : { namespace: cvm.metadata.namespace }),
      labels: { [LABEL_CONFIDENTIAL_VM]: name },
      ownerReferences: [
        { apiVersion: cvm.apiVersion, kind: cvm.kind, name, uid, controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      source: { http: { url: http.url, checksum: `sha256:${http.sha256}` } },
      storage: {
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: http.diskSize ?? "64Gi" } },
      },
      contentType: "kubevirt",
    },
  };
}
