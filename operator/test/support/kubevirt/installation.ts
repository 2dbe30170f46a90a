// TEST-ONLY: "KubeVirt is installed" on the local control plane, which has no virt-operator, virt-handler or
// device plugins: KubeVirt's CRDs, the KubeVirt CR the README documents (docs/examples/kubevirt.yaml) with the
// status virt-operator would give it, and per Node what virt-handler and NVIDIA's sandbox device plugin publish.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";
import type { ConfidentialHostStatus } from "../../../src/api/v1alpha1/generated/types.ts";
import { mergePatch } from "../../../src/kube/merge-patch.ts";
import type { KubeVirt } from "../../../src/kubevirt/generated/types.ts";
import { gpuResourceDefaults, resolveGpuResource } from "../../../src/kubevirt/gpu-resource-names.ts";
import { DEFAULT_NVSWITCH_RESOURCE_NAME } from "../../../src/kubevirt/virtual-machine.ts";
import {
  DEVICE_SEV,
  DEVICE_TDX,
  LABEL_KUBEVIRT_SCHEDULABLE,
  LABEL_KUBEVIRT_SEV,
  LABEL_KUBEVIRT_SEV_SNP,
  LABEL_KUBEVIRT_TDX,
} from "../../../src/kubevirt/preflight.ts";
import { applyCrds, readCrdFile } from "../crd-install.ts";
import { REPO_ROOT } from "../samples.ts";

export const KUBEVIRT_NAMESPACE = "kubevirt";
const KUBEVIRTS = { group: "kubevirt.io", version: "v1", plural: "kubevirts" } as const;
/** The pinned commit's `git describe`, as virt-operator would report it. */
export const PINNED_KUBEVIRT_VERSION = "v1.9.0-beta.0-1264-gd923fdb";

/** The documented KubeVirt CR, with the status virt-operator gives a deployed one. */
export function exampleKubeVirt(): KubeVirt {
  const kv = parse(readFileSync(join(REPO_ROOT, "docs/examples/kubevirt.yaml"), "utf8")) as KubeVirt;
  return { ...kv, status: { phase: "Deployed", observedKubeVirtVersion: PINNED_KUBEVIRT_VERSION } };
}

/** KubeVirt's VirtualMachine, VirtualMachineInstance and KubeVirt CRDs (the pinned copies). */
export async function installKubevirtCrds(kc: KubeConfig): Promise<void> {
  for (const crd of ["virtualmachines", "virtualmachineinstances", "kubevirts"]) {
    await applyCrds(
      kc,
      await readCrdFile(join(REPO_ROOT, `hack/kubevirt/crds/${crd}.kubevirt.io.yaml`)),
      60_000,
    );
  }
}

/** Creates or replaces the cluster's KubeVirt CR and sets its status as virt-operator would. */
export async function applyKubeVirt(kc: KubeConfig, kubevirt: KubeVirt = exampleKubeVirt()): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  const namespace = kubevirt.metadata?.namespace ?? KUBEVIRT_NAMESPACE;
  const name = kubevirt.metadata?.name ?? "kubevirt";
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch(() => undefined);
  const { status, ...body } = kubevirt;
  const ref = { ...KUBEVIRTS, namespace, name };
  const existing = (await objects.getNamespacedCustomObject(ref).catch(() => undefined)) as
    | KubeVirt
    | undefined;
  if (existing === undefined) await objects.createNamespacedCustomObject({ ...KUBEVIRTS, namespace, body });
  else
    await objects.replaceNamespacedCustomObject({
      ...ref,
      body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } },
    });
  if (status !== undefined)
    await objects.patchNamespacedCustomObjectStatus({ ...ref, body: { status } }, mergePatch);
}

export async function deleteKubeVirt(
  kc: KubeConfig,
  namespace = KUBEVIRT_NAMESPACE,
  name = "kubevirt",
): Promise<void> {
  await kc
    .makeApiClient(CustomObjectsApi)
    .deleteNamespacedCustomObject({ ...KUBEVIRTS, namespace, name })
    .catch(() => undefined);
}

/** KubeVirt installed and deployed with the documented configuration. */
export async function installKubevirt(kc: KubeConfig): Promise<void> {
  await installKubevirtCrds(kc);
  await applyKubeVirt(kc);
}

/** What virt-handler and the GPU device plugin would find on a host: its TEE and its GPUs on vfio-pci. */
export interface SimulatedNodeHardware {
  tee: "tdx" | "snp" | "none";
  gpus: readonly {
    pciAddress: string;
    vendorId: string;
    deviceId: string;
    model?: string;
    driver?: string;
  }[];
  /** Other device-plugin resources the Node advertises (e.g. NVSwitches), by resource name. */
  otherDevices?: Readonly<Record<string, number>>;
}

/** The hardware of a host fixture, from its expected agent status (operator/test/fixtures/hosts/<case>). */
export async function fixtureHardware(fixture: string): Promise<SimulatedNodeHardware> {
  const path = join(REPO_ROOT, "operator/test/fixtures/hosts", fixture, "expected-status.json");
  const status = JSON.parse(await readFile(path, "utf8")) as ConfidentialHostStatus;
  const switches = (status.nvswitches ?? []).filter((s) => s.driver === "vfio-pci").length;
  return {
    tee: status.tee?.enabled === true ? (status.tee.type as "tdx" | "snp") : "none",
    gpus: status.gpus ?? [],
    ...(switches === 0 ? {} : { otherDevices: { [DEFAULT_NVSWITCH_RESOURCE_NAME]: switches } }),
  };
}

/**
 * Publishes on a Node what virt-handler (schedulable, TEE labels, devices.kubevirt.io/tdx or sev) and NVIDIA's
 * sandbox device plugin (one resource per vfio-pci GPU, named as the KubeVirt CR permits it) would.
 */
export async function simulateVirtHandler(
  kc: KubeConfig,
  nodeName: string,
  hardware: SimulatedNodeHardware,
  kubevirt: KubeVirt = exampleKubeVirt(),
): Promise<void> {
  const labels: Record<string, string> = { [LABEL_KUBEVIRT_SCHEDULABLE]: "true" };
  const devices: Record<string, number> = { ...hardware.otherDevices };
  if (hardware.tee === "tdx") {
    labels[LABEL_KUBEVIRT_TDX] = "true";
    devices[DEVICE_TDX] = 15;
  } else if (hardware.tee === "snp") {
    labels[LABEL_KUBEVIRT_SEV] = "true";
    labels[LABEL_KUBEVIRT_SEV_SNP] = "true";
    devices[DEVICE_SEV] = 110;
  }
  const permitted = kubevirt.spec.configuration?.permittedHostDevices?.pciHostDevices ?? [];
  for (const gpu of hardware.gpus.filter((g) => g.driver === "vfio-pci")) {
    const resolved = resolveGpuResource(
      { pciAddress: gpu.pciAddress, model: gpu.model ?? "", vendorId: gpu.vendorId, deviceId: gpu.deviceId },
      { permitted, defaults: gpuResourceDefaults() },
    );
    if (resolved.resourceName !== undefined)
      devices[resolved.resourceName] = (devices[resolved.resourceName] ?? 0) + 1;
  }
  const core = kc.makeApiClient(CoreV1Api);
  await core.patchNode({ name: nodeName, body: { metadata: { labels } } }, mergePatch);
  const quantities = Object.fromEntries(Object.entries(devices).map(([k, v]) => [k, String(v)]));
  await core.patchNodeStatus(
    { name: nodeName, body: { status: { capacity: quantities, allocatable: quantities } } },
    mergePatch,
  );
}
