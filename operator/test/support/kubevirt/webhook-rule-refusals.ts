// The VirtualMachines the KubeVirt admission rules refuse, each with every violation it must be refused for.
import {
  aTdxVm,
  CC_GATES,
  withSpec,
  asSnp,
  cloudInit,
  CLUSTER,
  SPEC,
  H100_RESOURCE,
  type Case,
} from "./webhook-rule-cases.ts";

const LS = `${SPEC}.domain.launchSecurity`;
const EFI = `${SPEC}.domain.firmware.bootloader.efi`;
const SMM = `${SPEC}.domain.features.smm`;
const NOCLOUD = `${SPEC}.volumes[0].cloudInitNoCloud`;

export const refused: Case[] = [
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
