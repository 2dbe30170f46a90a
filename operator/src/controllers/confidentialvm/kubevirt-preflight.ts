import type { V1Node } from "@kubernetes/client-node";
import type { ConfidentialHost, ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import type { VirtualMachine } from "../../kubevirt/generated/types.ts";
import { type GpuResourceDefaults, resolveGpuResource } from "../../kubevirt/gpu-resource-names.ts";
import { activeKubeVirt, type KubeVirtApi, nodeProblems } from "../../kubevirt/preflight.ts";
import { buildVirtualMachine, VmBuildError, type VmPlacement } from "../../kubevirt/virtual-machine.ts";
import type { DesiredCondition } from "../../runtime/conditions.ts";
import { type KubeVirtReadiness, kubeVirtReadiness, kubeVirtReadyCondition } from "./kubevirt-readiness.ts";

/** What the ConfidentialVM reconciler reads of KubeVirt and the Nodes, from the manager's caches. */
export interface KubeVirtAccess {
  api(): KubeVirtApi;
  node(name: string): V1Node | undefined;
  gpuResourceDefaults: GpuResourceDefaults;
  /** Whether CDI's DataVolume API is served (undefined: could not tell). */
  dataVolumeApi(): Promise<boolean | undefined>;
}

/** The cache reads around the pure preflight (kubevirt-readiness.ts) and GPU resource names. */
export class KubeVirtPreflight {
  readonly #access: KubeVirtAccess;
  readonly #host: (name: string) => ConfidentialHost | undefined;

  constructor(access: KubeVirtAccess, host: (name: string) => ConfidentialHost | undefined) {
    this.#access = access;
    this.#host = host;
  }

  api(): KubeVirtApi {
    return this.#access.api();
  }

  /**
   * The placement with each GPU's resource name: the names a VM already launched with (the watch cache keeps them),
   * so a running VM is never relaunched because a name would now resolve differently; else KubeVirt's
   * permittedHostDevices entry for the GPU's vendor:device, else the default. A GPU left without a name renders
   * with its model's default, and the preflight then says what KubeVirt lacks.
   */
  withResourceNames(placement: VmPlacement, launched: VirtualMachine | undefined): VmPlacement {
    const launchedNames = launchedGpuResources(launched);
    if (launched !== undefined && launchedNames.length === placement.gpus.length)
      return {
        ...placement,
        gpus: placement.gpus.map((gpu, i) => withName(gpu, launchedNames[i])),
      };
    const api = this.#access.api();
    const kubevirt = api.state === "synced" ? activeKubeVirt(api.kubevirts) : undefined;
    const permitted = kubevirt?.spec.configuration?.permittedHostDevices?.pciHostDevices ?? [];
    const allocatable = this.#access.node(placement.nodeName)?.status?.allocatable;
    const reported = this.#host(placement.nodeName)?.status?.gpus ?? [];
    return {
      ...placement,
      gpus: placement.gpus.map((gpu) => {
        // A CC-mode GPU's address is known only once observed; any reported GPU of its model has its PCI IDs.
        const fromHost = reported.find((g) =>
          gpu.pciAddress === undefined ? g.model === gpu.model : g.pciAddress === gpu.pciAddress,
        );
        const resolved = resolveGpuResource(
          {
            ...gpu,
            ...(fromHost === undefined ? {} : { vendorId: fromHost.vendorId, deviceId: fromHost.deviceId }),
          },
          {
            permitted,
            ...(allocatable === undefined ? {} : { allocatable }),
            defaults: this.#access.gpuResourceDefaults,
          },
        );
        return withName(gpu, resolved.resourceName);
      }),
    };
  }

  /**
   * Why KubeVirt could not start the CVM's VM on a Node, before its GPUs are chosen (KubeVirt's labels, the TEE's
   * device), for placement; nothing while the KubeVirt CR is not known (the cluster-wide preflight says so).
   */
  nodeRefusals(cvm: ConfidentialVM, nodeName: string): string[] {
    const api = this.#access.api();
    const kubevirt = api.state === "synced" ? activeKubeVirt(api.kubevirts) : undefined;
    if (kubevirt === undefined) return [];
    const node = this.#access.node(nodeName);
    if (node === undefined) return []; // placement refuses a host without a Node itself
    return nodeProblems({ nodeName, node, tee: cvm.spec.tee, kubevirt, devices: new Map() }).map(
      (problem) => `KubeVirt: Node ${problem}`,
    );
  }

  /** Whether KubeVirt can launch the CVM's VM; with a placement also on its Node with its devices. */
  async readiness(
    cvm: ConfidentialVM,
    placement: VmPlacement | undefined,
    launched: VirtualMachine | undefined,
  ): Promise<KubeVirtReadiness> {
    const api = this.#access.api();
    const dataVolumeApi = cvm.spec.image.http === undefined ? undefined : await this.#access.dataVolumeApi();
    const common = { api, cvm, ...(dataVolumeApi === undefined ? {} : { dataVolumeApi }) };
    if (placement === undefined) return kubeVirtReadiness(common);
    let vm: VirtualMachine | undefined;
    try {
      vm = buildVirtualMachine(cvm, this.withResourceNames(placement, launched));
    } catch (error) {
      if (!(error instanceof VmBuildError)) throw error;
    }
    const host = { name: placement.nodeName, node: this.#access.node(placement.nodeName) };
    return kubeVirtReadiness({ ...common, host, ...(vm === undefined ? {} : { vm }) });
  }

  async condition(
    cvm: ConfidentialVM,
    placement: VmPlacement | undefined,
    launched: VirtualMachine | undefined,
  ): Promise<DesiredCondition> {
    return kubeVirtReadyCondition(await this.readiness(cvm, placement, launched));
  }
}

/** The GPU resource names a cached VM was launched with (the cache keeps only those of its template). */
function launchedGpuResources(vm: VirtualMachine | undefined): (string | undefined)[] {
  type Cached = { template?: { spec?: { domain?: { devices?: { gpus?: { deviceName?: string }[] } } } } };
  const spec = vm?.spec as Cached | undefined;
  return (spec?.template?.spec?.domain?.devices?.gpus ?? []).map((g) => g.deviceName);
}

function withName<T extends { resourceName?: string }>(gpu: T, resourceName: string | undefined): T {
  return resourceName === undefined ? gpu : { ...gpu, resourceName };
}
