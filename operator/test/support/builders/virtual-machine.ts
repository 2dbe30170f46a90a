import type {
  K8sIoApimachineryPkgApisMetaV1ObjectMeta as ObjectMeta,
  V1VirtualMachineInstanceTemplateSpec,
  VirtualMachine,
} from "../../../src/kubevirt/generated/types.ts";

/** A KubeVirt VirtualMachine that always runs `template` (runStrategy Always). */
export function aVirtualMachine(
  metadata: ObjectMeta,
  template: V1VirtualMachineInstanceTemplateSpec,
): VirtualMachine {
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachine",
    metadata,
    spec: { runStrategy: "Always", template },
  };
}
