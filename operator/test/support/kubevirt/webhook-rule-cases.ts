// The KubeVirt admission rules' cases: VirtualMachines the rules accept and refuse (with every violation), on a
// cluster with the confidential-computing feature gates and the H100 permitted.
import { aVirtualMachine } from "../builders/virtual-machine.ts";
import type { V1VirtualMachineInstanceSpec, VirtualMachine } from "../../../src/kubevirt/generated/types.ts";
import type { AdmissionViolation, KubevirtClusterConfig } from "./webhook-rules.ts";

export const H100_RESOURCE = "nvidia.com/GH100_H100_SXM5_80GB";
export const CC_GATES = ["WorkloadEncryptionSEV", "WorkloadEncryptionTDX"];
export const CLUSTER: KubevirtClusterConfig = {
  featureGates: CC_GATES,
  permittedHostDevices: [H100_RESOURCE],
};
export const SPEC = "spec.template.spec";

/** A minimal TDX VM with one GPU and NoCloud user data that passes every rule. */
export function aTdxVm(): VirtualMachine {
  return aVirtualMachine(
    { name: "vm", namespace: "ns" },
    {
      spec: {
        domain: {
          launchSecurity: { tdx: {} },
          firmware: { bootloader: { efi: { secureBoot: false, persistent: false } } },
          features: { smm: { enabled: false } },
          devices: {
            disks: [{ name: "cloudinit", disk: { bus: "virtio" } }],
            gpus: [{ name: "gpu0", deviceName: H100_RESOURCE }],
          },
        },
        volumes: [{ name: "cloudinit", cloudInitNoCloud: { secretRef: { name: "vm-userdata" } } }],
      },
    },
  );
}

export function withSpec(
  change: (spec: V1VirtualMachineInstanceSpec, vm: VirtualMachine) => void,
): VirtualMachine {
  const vm = aTdxVm();
  const spec = vm.spec.template.spec;
  if (spec === undefined) throw new Error("template without spec");
  change(spec, vm);
  return vm;
}

export function asSnp(spec: V1VirtualMachineInstanceSpec): void {
  spec.domain.launchSecurity = { snp: {} };
  spec.domain.features = {};
}

export function cloudInit(spec: V1VirtualMachineInstanceSpec): Record<string, unknown> {
  const source = spec.volumes?.[0]?.cloudInitNoCloud;
  if (source === undefined) throw new Error("no cloud-init volume");
  return source as Record<string, unknown>;
}

export interface Case {
  name: string;
  vm: VirtualMachine;
  config?: KubevirtClusterConfig;
  violations: AdmissionViolation[];
}

export const accepted: Case[] = [
  { name: "the TDX baseline", vm: aTdxVm(), violations: [] },
  { name: "the deprecated spec.running instead of runStrategy", vm: withRunning(true), violations: [] },
  ...["Always", "Halted", "Manual", "RerunOnFailure", "Once"].map((runStrategy) => ({
    name: `runStrategy ${runStrategy}`,
    vm: withSpec((_, vm) => (vm.spec.runStrategy = runStrategy)),
    violations: [],
  })),
  {
    name: "WaitAsReceiver with the DecentralizedLiveMigration gate",
    vm: withSpec((_, vm) => (vm.spec.runStrategy = "WaitAsReceiver")),
    config: { featureGates: [...CC_GATES, "DecentralizedLiveMigration"] },
    violations: [],
  },
  {
    name: "an SNP guest with Secure Boot explicitly off",
    vm: withSpec(asSnp),
    violations: [],
  },
  {
    name: "a TDX guest with Secure Boot on and no SMM (v1.9+ TDVF keeps its keys in ROM)",
    vm: withSpec((spec) => (spec.domain.firmware = { bootloader: { efi: {} } })),
    violations: [],
  },
  {
    name: "a TDX guest without any features block",
    vm: withSpec((spec) => delete spec.domain.features),
    violations: [],
  },
  {
    name: "a plain VM with Secure Boot and SMM on",
    vm: withSpec((spec) => {
      delete spec.domain.launchSecurity;
      spec.domain.features = { smm: {} };
      spec.domain.firmware = { bootloader: { efi: { secureBoot: true } } };
    }),
    violations: [],
  },
  {
    name: "a plain VM with BIOS firmware and no SMM",
    vm: withSpec((spec) => {
      delete spec.domain.launchSecurity;
      spec.domain.firmware = { bootloader: { bios: {} } };
      spec.domain.features = {};
    }),
    violations: [],
  },
  {
    name: "an SEV guest with attestation and startStrategy Paused",
    vm: withSpec((spec) => {
      asSnp(spec);
      spec.domain.launchSecurity = { sev: { attestation: {} } };
      spec.startStrategy = "Paused";
    }),
    violations: [],
  },
  {
    name: "interfaces without bootOrder",
    vm: withSpec((spec) => (spec.domain.devices.interfaces = [{ name: "default", masquerade: {} }])),
    violations: [],
  },
  {
    name: "any GPU when the cluster sets no permittedHostDevices",
    vm: withSpec((spec) => (spec.domain.devices.gpus = [{ name: "g", deviceName: "nvidia.com/2330" }])),
    config: { featureGates: CC_GATES },
    violations: [],
  },
  {
    name: "a DRA-backed GPU that is not in permittedHostDevices",
    vm: withSpec((spec) => (spec.domain.devices.gpus = [{ name: "g", claimName: "c", requestName: "r" }])),
    violations: [],
  },
  {
    name: "host devices with the HostDevices gate and a permitted name",
    vm: withSpec((spec) => (spec.domain.devices.hostDevices = [{ name: "h", deviceName: H100_RESOURCE }])),
    config: { ...CLUSTER, featureGates: [...CC_GATES, "HostDevices"] },
    violations: [],
  },
  {
    name: "inline user data of exactly 2048 bytes plus inline network data",
    vm: withSpec((spec) => {
      cloudInit(spec)["secretRef"] = undefined;
      cloudInit(spec)["userData"] = "é".repeat(1024);
      cloudInit(spec)["networkData"] = "version: 2\n";
    }),
    violations: [],
  },
  {
    name: "base64 user data (line-wrapped, as Go's decoder allows) and only network data on a config drive",
    vm: withSpec((spec) => {
      cloudInit(spec)["secretRef"] = undefined;
      cloudInit(spec)["userDataBase64"] = "I2Nsb3VkLWNv\r\nbmZpZwo=";
      spec.volumes?.push({ name: "cd", cloudInitConfigDrive: { networkDataSecretRef: { name: "net" } } });
    }),
    violations: [],
  },
];

export function withRunning(running: boolean): VirtualMachine {
  return withSpec((_, vm) => {
    delete vm.spec.runStrategy;
    vm.spec.running = running;
  });
}
