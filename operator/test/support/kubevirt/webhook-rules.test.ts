import { expect } from "chai";
import { aConfidentialVM } from "../builders/confidential-vm.ts";
import { aVirtualMachine } from "../builders/virtual-machine.ts";
import type { V1VirtualMachineInstanceSpec, VirtualMachine } from "../../../src/kubevirt/generated/types.ts";
import { buildVirtualMachine } from "../../../src/kubevirt/virtual-machine.ts";
import {
  type AdmissionViolation,
  checkVirtualMachineAdmission,
  type KubevirtClusterConfig,
} from "./webhook-rules.ts";

const H100_RESOURCE = "nvidia.com/GH100_H100_SXM5_80GB";
const CC_GATES = ["WorkloadEncryptionSEV", "WorkloadEncryptionTDX"];
const CLUSTER: KubevirtClusterConfig = { featureGates: CC_GATES, permittedHostDevices: [H100_RESOURCE] };
const SPEC = "spec.template.spec";

/** A minimal TDX VM with one GPU and NoCloud user data that passes every rule. */
function aTdxVm(): VirtualMachine {
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

function withSpec(change: (spec: V1VirtualMachineInstanceSpec, vm: VirtualMachine) => void): VirtualMachine {
  const vm = aTdxVm();
  const spec = vm.spec.template.spec;
  if (spec === undefined) throw new Error("template without spec");
  change(spec, vm);
  return vm;
}

function asSnp(spec: V1VirtualMachineInstanceSpec): void {
  spec.domain.launchSecurity = { snp: {} };
  spec.domain.features = {};
}

function cloudInit(spec: V1VirtualMachineInstanceSpec): Record<string, unknown> {
  const source = spec.volumes?.[0]?.cloudInitNoCloud;
  if (source === undefined) throw new Error("no cloud-init volume");
  return source as Record<string, unknown>;
}

interface Case {
  name: string;
  vm: VirtualMachine;
  config?: KubevirtClusterConfig;
  violations: AdmissionViolation[];
}

const accepted: Case[] = [
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

function withRunning(running: boolean): VirtualMachine {
  return withSpec((_, vm) => {
    delete vm.spec.runStrategy;
    vm.spec.running = running;
  });
}

const LS = `${SPEC}.domain.launchSecurity`;
const EFI = `${SPEC}.domain.firmware.bootloader.efi`;
const SMM = `${SPEC}.domain.features.smm`;
const NOCLOUD = `${SPEC}.volumes[0].cloudInitNoCloud`;

const refused: Case[] = [
  {
    name: "neither runStrategy nor running",
    vm: withSpec((_, vm) => delete vm.spec.runStrategy),
    violations: [{ path: "spec.runStrategy", message: "RunStrategy must be specified" }],
  },
  {
    name: "both runStrategy and running",
    vm: withSpec((_, vm) => (vm.spec.running = false)),
    violations: [{ path: "spec.running", message: "running and runStrategy are mutually exclusive" }],
  },
  {
    name: "an unknown runStrategy",
    vm: withSpec((_, vm) => (vm.spec.runStrategy = "always")),
    violations: [{ path: "spec.runStrategy", message: 'invalid runStrategy "always"' }],
  },
  {
    name: "WaitAsReceiver without its gate",
    vm: withSpec((_, vm) => (vm.spec.runStrategy = "WaitAsReceiver")),
    violations: [
      {
        path: "spec.runStrategy",
        message: "WaitAsReceiver needs the DecentralizedLiveMigration feature gate",
      },
    ],
  },
  {
    name: "two launchSecurity types",
    vm: withSpec((spec) => (spec.domain.launchSecurity = { tdx: {}, snp: {} })),
    violations: [{ path: LS, message: "exactly one of sev, snp and tdx must be set" }],
  },
  {
    name: "an empty launchSecurity (s390x Secure Execution, not amd64)",
    vm: withSpec((spec) => (spec.domain.launchSecurity = {})),
    violations: [{ path: LS, message: "exactly one of sev, snp and tdx must be set" }],
  },
  {
    name: "TDX without the WorkloadEncryptionTDX gate",
    vm: aTdxVm(),
    config: { featureGates: ["WorkloadEncryptionSEV"] },
    violations: [{ path: LS, message: "TDX needs the WorkloadEncryptionTDX feature gate" }],
  },
  {
    name: "SNP without the WorkloadEncryptionSEV gate",
    vm: withSpec(asSnp),
    config: { featureGates: ["WorkloadEncryptionTDX"] },
    violations: [{ path: LS, message: "SNP needs the WorkloadEncryptionSEV feature gate" }],
  },
  {
    name: "TDX without EFI firmware",
    vm: withSpec((spec) => delete spec.domain.firmware),
    violations: [{ path: EFI, message: "TDX needs UEFI firmware (OVMF)" }],
  },
  {
    name: "SNP with BIOS firmware",
    vm: withSpec((spec) => {
      asSnp(spec);
      spec.domain.firmware = { bootloader: { bios: {} } };
    }),
    violations: [{ path: EFI, message: "SNP needs UEFI firmware (OVMF)" }],
  },
  {
    name: "SNP with secureBoot left to its default (on), which also needs SMM",
    vm: withSpec((spec) => {
      asSnp(spec);
      spec.domain.firmware = { bootloader: { efi: {} } };
    }),
    violations: [
      {
        path: `${EFI}.secureBoot`,
        message: "SNP does not work with Secure Boot (which defaults to on): set it to false",
      },
      { path: SMM, message: "EFI Secure Boot (on unless secureBoot is false) needs SMM enabled" },
    ],
  },
  {
    name: "SEV with Secure Boot on, even with SMM",
    vm: withSpec((spec) => {
      spec.domain.launchSecurity = { sev: {} };
      spec.domain.features = { smm: { enabled: true } };
      spec.domain.firmware = { bootloader: { efi: { secureBoot: true } } };
    }),
    violations: [
      {
        path: `${EFI}.secureBoot`,
        message: "SEV does not work with Secure Boot (which defaults to on): set it to false",
      },
    ],
  },
  {
    name: "SNP with persistent EFI variables",
    vm: withSpec((spec) => {
      asSnp(spec);
      spec.domain.firmware = { bootloader: { efi: { secureBoot: false, persistent: true } } };
    }),
    violations: [{ path: `${EFI}.persistent`, message: "SNP does not work with persistent EFI variables" }],
  },
  {
    name: "TDX with persistent EFI variables",
    vm: withSpec((spec) => (spec.domain.firmware = { bootloader: { efi: { persistent: true } } })),
    violations: [{ path: `${EFI}.persistent`, message: "TDX does not work with persistent EFI variables" }],
  },
  {
    name: "TDX with SMM enabled explicitly",
    vm: withSpec((spec) => (spec.domain.features = { smm: { enabled: true } })),
    violations: [{ path: SMM, message: "TDX does not work with SMM" }],
  },
  {
    name: "TDX with `smm: {}` (enabled defaults to true)",
    vm: withSpec((spec) => (spec.domain.features = { smm: {} })),
    violations: [{ path: SMM, message: "TDX does not work with SMM" }],
  },
  {
    name: "SEV attestation without startStrategy Paused",
    vm: withSpec((spec) => {
      asSnp(spec);
      spec.domain.launchSecurity = { sev: { attestation: {} } };
    }),
    violations: [{ path: `${SPEC}.startStrategy`, message: "SEV attestation needs startStrategy Paused" }],
  },
  {
    name: "a bootable NIC on a confidential VM",
    vm: withSpec(
      (spec) =>
        (spec.domain.devices.interfaces = [
          { name: "default", masquerade: {} },
          { name: "pxe", bridge: {}, bootOrder: 1 },
        ]),
    ),
    violations: [
      {
        path: `${SPEC}.domain.devices.interfaces[1].bootOrder`,
        message: "TDX does not work with bootable NICs (pxe)",
      },
    ],
  },
  {
    name: "a plain VM with Secure Boot on by default and no SMM",
    vm: withSpec((spec) => {
      delete spec.domain.launchSecurity;
      spec.domain.firmware = { bootloader: { efi: {} } };
      spec.domain.features = { smm: { enabled: false } };
    }),
    violations: [{ path: SMM, message: "EFI Secure Boot (on unless secureBoot is false) needs SMM enabled" }],
  },
  {
    name: "host devices without the HostDevices gate",
    vm: withSpec((spec) => (spec.domain.devices.hostDevices = [{ name: "h", deviceName: H100_RESOURCE }])),
    violations: [
      {
        path: `${SPEC}.domain.devices.hostDevices`,
        message: "host devices need the HostDevices feature gate",
      },
    ],
  },
  {
    name: "a GPU and a host device that permittedHostDevices does not list",
    vm: withSpec((spec) => {
      spec.domain.devices.gpus = [
        { name: "ok", deviceName: H100_RESOURCE },
        { name: "raw", deviceName: "nvidia.com/2330" },
      ];
      spec.domain.devices.hostDevices = [{ name: "sw", deviceName: "nvidia.com/GH100_H100_NVSWITCH" }];
    }),
    config: { ...CLUSTER, featureGates: [...CC_GATES, "HostDevices"] },
    violations: [
      {
        path: `${SPEC}.domain.devices.gpus[1].deviceName`,
        message: "nvidia.com/2330 is not permitted in permittedHostDevices configuration",
      },
      {
        path: `${SPEC}.domain.devices.hostDevices[0].deviceName`,
        message: "nvidia.com/GH100_H100_NVSWITCH is not permitted in permittedHostDevices configuration",
      },
    ],
  },
  {
    name: "an empty permittedHostDevices list (set, so nothing is permitted)",
    vm: aTdxVm(),
    config: { featureGates: CC_GATES, permittedHostDevices: [] },
    violations: [
      {
        path: `${SPEC}.domain.devices.gpus[0].deviceName`,
        message: `${H100_RESOURCE} is not permitted in permittedHostDevices configuration`,
      },
    ],
  },
  {
    name: "two user data sources on one volume",
    vm: withSpec((spec) => (cloudInit(spec)["userData"] = "#cloud-config\n")),
    violations: [{ path: NOCLOUD, message: "only one user data source may be set" }],
  },
  {
    name: "two network data sources on one volume",
    vm: withSpec((spec) => {
      cloudInit(spec)["networkData"] = "version: 2\n";
      cloudInit(spec)["networkDataBase64"] = "dmVyc2lvbjogMgo=";
    }),
    violations: [{ path: NOCLOUD, message: "only one network data source may be set" }],
  },
  {
    name: "a cloud-init volume without any data",
    vm: withSpec((spec) => (cloudInit(spec)["secretRef"] = undefined)),
    violations: [{ path: NOCLOUD, message: "needs at least one user data or network data source" }],
  },
  {
    name: "inline user data one byte over 2048 (counted in UTF-8 bytes)",
    vm: withSpec((spec) => {
      cloudInit(spec)["secretRef"] = undefined;
      cloudInit(spec)["userData"] = `${"é".repeat(1024)}x`;
    }),
    violations: [
      {
        path: `${NOCLOUD}.userData`,
        message: "user data is 2049 bytes, over the 2048-byte limit (use a Secret)",
      },
    ],
  },
  {
    name: "base64 network data that decodes to more than 2048 bytes",
    vm: withSpec(
      (spec) => (cloudInit(spec)["networkDataBase64"] = Buffer.alloc(3000, "a").toString("base64")),
    ),
    violations: [
      {
        path: `${NOCLOUD}.networkDataBase64`,
        message: "network data is 3000 bytes, over the 2048-byte limit (use a Secret)",
      },
    ],
  },
  ...["not base64!", "YWJj=", "YWJjZA", "YW Jj"].map((value) => ({
    name: `userDataBase64 ${JSON.stringify(value)}`,
    vm: withSpec((spec) => {
      cloudInit(spec)["secretRef"] = undefined;
      cloudInit(spec)["userDataBase64"] = value;
    }),
    violations: [{ path: `${NOCLOUD}.userDataBase64`, message: "userDataBase64 is not valid base64" }],
  })),
  {
    name: "several broken rules at once, all reported",
    vm: withSpec((spec, vm) => {
      delete vm.spec.runStrategy;
      spec.domain.features = { smm: {} };
      spec.domain.firmware = { bootloader: { efi: { persistent: true } } };
    }),
    config: { featureGates: [] },
    violations: [
      { path: "spec.runStrategy", message: "RunStrategy must be specified" },
      { path: LS, message: "TDX needs the WorkloadEncryptionTDX feature gate" },
      { path: SMM, message: "TDX does not work with SMM" },
      { path: `${EFI}.persistent`, message: "TDX does not work with persistent EFI variables" },
    ],
  },
];

describe("checkVirtualMachineAdmission", () => {
  describe("accepts", () => {
    for (const c of accepted) {
      it(c.name, () => {
        expect(checkVirtualMachineAdmission(c.vm, c.config ?? CLUSTER)).to.deep.equal([]);
      });
    }
  });

  describe("refuses", () => {
    for (const c of refused) {
      it(c.name, () => {
        expect(checkVirtualMachineAdmission(c.vm, c.config ?? CLUSTER)).to.deep.equal(c.violations);
      });
    }
  });

  it("refuses a VM whose template has no spec", () => {
    const vm = withSpec((_, vm) => delete vm.spec.template.spec);
    expect(checkVirtualMachineAdmission(vm, CLUSTER)).to.deep.equal([
      { path: SPEC, message: "the VMI template has no spec" },
    ]);
  });

  describe("our builder's confidential VMs with H100s", () => {
    const H100 = "H100-SXM5-80GB";
    const gpus = ["0000:19:00.0", "0000:3b:00.0", "0000:4c:00.0", "0000:5d:00.0"].map((pciAddress) => ({
      pciAddress,
      model: H100,
    }));
    for (const tee of ["tdx", "snp"] as const) {
      for (const count of [0, 1, 4]) {
        it(`passes for ${tee.toUpperCase()} with ${count} GPU${count === 1 ? "" : "s"}`, () => {
          const cvm = aConfidentialVM({ tee, gpus: { count, model: H100 } });
          const vm = buildVirtualMachine(cvm, { nodeName: "gpu-node-1", gpus: gpus.slice(0, count) });
          expect(checkVirtualMachineAdmission(vm, CLUSTER)).to.deep.equal([]);
        });
      }
    }

    it("would be refused by a v1.9 cluster that leaves the Alpha TDX gate off", () => {
      const cvm = aConfidentialVM({ tee: "tdx", gpus: { count: 1, model: H100 } });
      const vm = buildVirtualMachine(cvm, { nodeName: "gpu-node-1", gpus: gpus.slice(0, 1) });
      const violations = checkVirtualMachineAdmission(vm, {
        featureGates: ["WorkloadEncryptionSEV"],
        permittedHostDevices: [H100_RESOURCE],
      });
      expect(violations.map((v) => v.message)).to.deep.equal([
        "TDX needs the WorkloadEncryptionTDX feature gate",
      ]);
    });
  });
});
