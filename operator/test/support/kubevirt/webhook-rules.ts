import type {
  V1CloudInitNoCloudSource,
  V1FeatureState,
  V1VirtualMachine,
  V1VirtualMachineInstanceSpec,
} from "../../../src/kubevirt/generated/types.ts";

export interface AdmissionViolation {
  /** The offending field, e.g. `spec.template.spec.domain.launchSecurity`. */
  path: string;
  message: string;
}

export interface KubevirtClusterConfig {
  /**
   * Feature gates that are on in the cluster, including Beta gates that are on by default
   * (WorkloadEncryptionSEV is Beta from v1.9.0; WorkloadEncryptionTDX and HostDevices are Alpha).
   */
  featureGates: readonly string[];
  /** `permittedHostDevices` resource names; undefined when the KubeVirt CR does not set the list. */
  permittedHostDevices?: readonly string[];
}

export const RUN_STRATEGIES = ["Always", "Halted", "Manual", "RerunOnFailure", "Once"] as const;
const WAIT_AS_RECEIVER = "WaitAsReceiver";
export const CLOUD_INIT_MAX_BYTES = 2048;

/**
 * The virt-api admission rules (and virt-controller's permittedHostDevices rule) that matter for
 * confidential VMs (KubeVirt's validating webhooks). The CRD schema checks none of them, so a VM
 * the API server stores can still be refused by KubeVirt. Unlike the webhook, which stops at a missing
 * feature gate, this reports every broken rule.
 */
export function checkVirtualMachineAdmission(
  vm: V1VirtualMachine,
  config: KubevirtClusterConfig,
): AdmissionViolation[] {
  const violations = checkRunStrategy(vm, config);
  const spec = vm.spec.template.spec;
  if (spec === undefined) {
    violations.push({ path: "spec.template.spec", message: "the VMI template has no spec" });
    return violations;
  }
  const at = "spec.template.spec";
  return [
    ...violations,
    ...checkLaunchSecurity(spec, at, config),
    ...checkSecureBootNeedsSmm(spec, at),
    ...checkHostDevices(spec, at, config),
    ...checkCloudInit(spec, at),
  ];
}

function checkRunStrategy(vm: V1VirtualMachine, config: KubevirtClusterConfig): AdmissionViolation[] {
  const { runStrategy, running } = vm.spec;
  if (runStrategy === undefined && running === undefined) {
    return [{ path: "spec.runStrategy", message: "RunStrategy must be specified" }];
  }
  if (runStrategy !== undefined && running !== undefined) {
    return [{ path: "spec.running", message: "running and runStrategy are mutually exclusive" }];
  }
  if (runStrategy === undefined) return [];
  if ((RUN_STRATEGIES as readonly string[]).includes(runStrategy)) return [];
  if (runStrategy === WAIT_AS_RECEIVER) {
    return config.featureGates.includes("DecentralizedLiveMigration")
      ? []
      : [
          {
            path: "spec.runStrategy",
            message: "WaitAsReceiver needs the DecentralizedLiveMigration feature gate",
          },
        ];
  }
  return [{ path: "spec.runStrategy", message: `invalid runStrategy ${JSON.stringify(runStrategy)}` }];
}

/** KubeVirt feature switches default to enabled: `smm: {}` turns SMM on. */
function isEnabled(feature: V1FeatureState | undefined): boolean {
  return feature !== undefined && feature.enabled !== false;
}

function checkLaunchSecurity(
  spec: V1VirtualMachineInstanceSpec,
  at: string,
  config: KubevirtClusterConfig,
): AdmissionViolation[] {
  const launchSecurity = spec.domain.launchSecurity;
  if (launchSecurity === undefined) return [];
  const path = `${at}.domain.launchSecurity`;
  const types = (["sev", "snp", "tdx"] as const).filter((type) => launchSecurity[type] !== undefined);
  const [type] = types;
  if (type === undefined || types.length > 1) {
    return [{ path, message: "exactly one of sev, snp and tdx must be set" }];
  }
  const name = type.toUpperCase();
  const gate = type === "tdx" ? "WorkloadEncryptionTDX" : "WorkloadEncryptionSEV";
  const violations: AdmissionViolation[] = [];
  if (!config.featureGates.includes(gate)) {
    violations.push({ path, message: `${name} needs the ${gate} feature gate` });
  }
  if (type === "tdx" && isEnabled(spec.domain.features?.smm)) {
    violations.push({ path: `${at}.domain.features.smm`, message: "TDX does not work with SMM" });
  }
  const efi = spec.domain.firmware?.bootloader?.efi;
  const efiPath = `${at}.domain.firmware.bootloader.efi`;
  if (efi === undefined) {
    violations.push({ path: efiPath, message: `${name} needs UEFI firmware (OVMF)` });
  } else {
    if (type !== "tdx" && efi.secureBoot !== false) {
      violations.push({
        path: `${efiPath}.secureBoot`,
        message: `${name} does not work with Secure Boot (which defaults to on): set it to false`,
      });
    }
    if (type !== "sev" && efi.persistent === true) {
      violations.push({
        path: `${efiPath}.persistent`,
        message: `${name} does not work with persistent EFI variables`,
      });
    }
  }
  if (type === "sev" && launchSecurity.sev?.attestation !== undefined && spec.startStrategy !== "Paused") {
    violations.push({ path: `${at}.startStrategy`, message: "SEV attestation needs startStrategy Paused" });
  }
  (spec.domain.devices.interfaces ?? []).forEach((iface, index) => {
    if (iface.bootOrder !== undefined) {
      violations.push({
        path: `${at}.domain.devices.interfaces[${index}].bootOrder`,
        message: `${name} does not work with bootable NICs (${iface.name})`,
      });
    }
  });
  return violations;
}

function checkSecureBootNeedsSmm(spec: V1VirtualMachineInstanceSpec, at: string): AdmissionViolation[] {
  const efi = spec.domain.firmware?.bootloader?.efi;
  if (efi === undefined || efi.secureBoot === false) return [];
  // Since v1.9.0 the TDX firmware carries its Secure Boot keys in ROM and needs no SMM.
  if (spec.domain.launchSecurity?.tdx !== undefined) return [];
  if (isEnabled(spec.domain.features?.smm)) return [];
  return [
    {
      path: `${at}.domain.features.smm`,
      message: "EFI Secure Boot (on unless secureBoot is false) needs SMM enabled",
    },
  ];
}

function checkHostDevices(
  spec: V1VirtualMachineInstanceSpec,
  at: string,
  config: KubevirtClusterConfig,
): AdmissionViolation[] {
  const violations: AdmissionViolation[] = [];
  const hostDevices = spec.domain.devices.hostDevices ?? [];
  if (hostDevices.length > 0 && !config.featureGates.includes("HostDevices")) {
    violations.push({
      path: `${at}.domain.devices.hostDevices`,
      message: "host devices need the HostDevices feature gate",
    });
  }
  const permitted = config.permittedHostDevices;
  if (permitted === undefined) return violations;
  const devices = [
    ...(spec.domain.devices.gpus ?? []).map((device, index) => ({ device, path: `gpus[${index}]` })),
    ...hostDevices.map((device, index) => ({ device, path: `hostDevices[${index}]` })),
  ];
  for (const { device, path } of devices) {
    // DRA-backed devices are allocated through their claim, not through permittedHostDevices.
    if (device.claimName !== undefined || device.deviceName === undefined) continue;
    if (!permitted.includes(device.deviceName)) {
      violations.push({
        path: `${at}.domain.devices.${path}.deviceName`,
        message: `${device.deviceName} is not permitted in permittedHostDevices configuration`,
      });
    }
  }
  return violations;
}

function checkCloudInit(spec: V1VirtualMachineInstanceSpec, at: string): AdmissionViolation[] {
  return (spec.volumes ?? []).flatMap((volume, index) => {
    const source = volume.cloudInitNoCloud ?? volume.cloudInitConfigDrive;
    if (source === undefined) return [];
    const kind = volume.cloudInitNoCloud !== undefined ? "cloudInitNoCloud" : "cloudInitConfigDrive";
    return checkCloudInitSource(source, `${at}.volumes[${index}].${kind}`);
  });
}

/** Either cloud-init source: a config drive has the same fields as NoCloud (one generated type). */
function checkCloudInitSource(source: V1CloudInitNoCloudSource, path: string): AdmissionViolation[] {
  const user = checkCloudInitData(path, "user", {
    inline: ["userData", source.userData],
    base64: ["userDataBase64", source.userDataBase64],
    secret: source.secretRef?.name,
  });
  const network = checkCloudInitData(path, "network", {
    inline: ["networkData", source.networkData],
    base64: ["networkDataBase64", source.networkDataBase64],
    secret: source.networkDataSecretRef?.name,
  });
  const violations = [...user.violations, ...network.violations];
  if (user.sources === 0 && network.sources === 0) {
    violations.push({ path, message: "needs at least one user data or network data source" });
  }
  return violations;
}

interface CloudInitData {
  inline: [field: string, value: string | undefined];
  base64: [field: string, value: string | undefined];
  secret: string | undefined;
}

function checkCloudInitData(
  path: string,
  what: "user" | "network",
  data: CloudInitData,
): { sources: number; violations: AdmissionViolation[] } {
  const violations: AdmissionViolation[] = [];
  const [inlineField, inline] = data.inline;
  const [base64Field, base64] = data.base64;
  let sources = 0;
  let bytes = 0;
  let sizeField = inlineField;
  if (data.secret !== undefined && data.secret !== "") sources++;
  if (base64 !== undefined && base64 !== "") {
    sources++;
    const decoded = decodeStrictBase64(base64);
    if (decoded === undefined) {
      violations.push({ path: `${path}.${base64Field}`, message: `${base64Field} is not valid base64` });
    } else {
      bytes = decoded.length;
      sizeField = base64Field;
    }
  }
  if (inline !== undefined && inline !== "") {
    sources++;
    bytes = Buffer.byteLength(inline, "utf8");
    sizeField = inlineField;
  }
  if (sources > 1) {
    violations.push({ path, message: `only one ${what} data source may be set` });
  }
  if (bytes > CLOUD_INIT_MAX_BYTES) {
    violations.push({
      path: `${path}.${sizeField}`,
      message: `${what} data is ${bytes} bytes, over the ${CLOUD_INIT_MAX_BYTES}-byte limit (use a Secret)`,
    });
  }
  return { sources, violations };
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Go's StdEncoding: padded standard alphabet; it skips CR and LF, which Node's lenient decoder hides. */
function decodeStrictBase64(text: string): Buffer | undefined {
  const compact = text.replace(/[\r\n]/g, "");
  return STRICT_BASE64.test(compact) ? Buffer.from(compact, "base64") : undefined;
}
