import type { CustomObjectsApi } from "@kubernetes/client-node";
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import { apiErrorStatus, isConflict, isNotFound } from "../../kube/api-error.ts";
import { buildRootDataVolume, CDI_DATA_VOLUMES } from "../../kubevirt/data-volume.ts";
import type { VirtualMachine } from "../../kubevirt/generated/types.ts";
import { rootDataVolumeName } from "../../kubevirt/virtual-machine.ts";

const KUBEVIRT_VMS = { group: "kubevirt.io", version: "v1", plural: "virtualmachines" };

export type CreateOutcome = { kind: "created" } | { kind: "exists" } | { kind: "rejected"; message: string };

/** The KubeVirt and CDI objects of one ConfidentialVM: create and delete, idempotently. */
export class VmObjects {
  readonly #objects: CustomObjectsApi;

  constructor(objects: CustomObjectsApi) {
    this.#objects = objects;
  }

  /** Creates the VM with strict field validation; a schema rejection is reported, not thrown. */
  async createVirtualMachine(namespace: string, vm: VirtualMachine): Promise<CreateOutcome> {
    try {
      await this.#objects.createNamespacedCustomObject({
        ...KUBEVIRT_VMS,
        namespace,
        body: vm,
        fieldValidation: "Strict",
      });
      return { kind: "created" };
    } catch (error) {
      if (isConflict(error)) return { kind: "exists" };
      const status = apiErrorStatus(error);
      if (status?.code === 400 || status?.code === 422) {
        return { kind: "rejected", message: `KubeVirt rejected the VirtualMachine: ${status.message}` };
      }
      throw error;
    }
  }

  /** The VM as stored (the watch cache drops its spec); undefined when gone. */
  async readVirtualMachine(namespace: string, name: string): Promise<VirtualMachine | undefined> {
    try {
      return (await this.#objects.getNamespacedCustomObject({
        ...KUBEVIRT_VMS,
        namespace,
        name,
      })) as VirtualMachine;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async deleteVirtualMachine(namespace: string, name: string): Promise<void> {
    await this.#objects
      .deleteNamespacedCustomObject({ ...KUBEVIRT_VMS, namespace, name })
      .catch(ignoreNotFound);
  }

  /** Creates the http image's DataVolume; false when the DataVolume API (CDI) is not installed. */
  async ensureDataVolume(cvm: ConfidentialVM): Promise<boolean> {
    try {
      await this.#objects.createNamespacedCustomObject({
        ...CDI_DATA_VOLUMES,
        namespace: cvm.metadata.namespace ?? "",
        body: buildRootDataVolume(cvm),
      });
      return true;
    } catch (error) {
      if (isConflict(error)) return true;
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async deleteDataVolume(cvm: ConfidentialVM): Promise<void> {
    await this.#objects
      .deleteNamespacedCustomObject({
        ...CDI_DATA_VOLUMES,
        namespace: cvm.metadata.namespace ?? "",
        name: rootDataVolumeName(cvm.metadata.name ?? ""),
      })
      .catch(ignoreNotFound);
  }
}

function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}
