import type { V1Node } from "@kubernetes/client-node";
import type { KubeVirt, V1PciHostDevice } from "./generated/types.ts";

/**
 * What KubeVirt must provide before trustgate launches a TDX or SEV-SNP VirtualMachine, as KubeVirt implements it at
 * the pinned commit (hack/kubevirt/README.md): feature gates (pkg/virt-config/featuregate/active.go), permitted host
 * devices (virt-controller refuses a GPU whose resource is not listed), the TDX Quote Generation Service
 * (spec.configuration.confidentialCompute.tdx.attestation), and the node labels and devices virt-handler publishes,
 * which virt-controller adds to every TDX/SNP VMI's launcher pod (nodeSelector, resources).
 *
 * Trust: the KubeVirt CR is the platform team's. Node labels and allocatable devices are written by virt-handler and
 * device plugins on the node, so the host owner controls them: these checks only decide whether a launch can work.
 * A host that claims readiness it lacks gets a VM that does not start or does not attest; nothing here makes a VM
 * trusted.
 */

export const KUBEVIRT_GROUP = "kubevirt.io";
export const KUBEVIRT_VERSION = "v1";

export const FEATURE_GATE_TDX = "WorkloadEncryptionTDX";
export const FEATURE_GATE_SEV = "WorkloadEncryptionSEV";
/** Alpha: needed for `devices.hostDevices` (PCI devices other than GPUs, e.g. NVSwitches). */
export const FEATURE_GATE_HOST_DEVICES = "HostDevices";

/** virt-handler: the node runs virt-handler and takes VMs. */
export const LABEL_KUBEVIRT_SCHEDULABLE = "kubevirt.io/schedulable";
export const LABEL_KUBEVIRT_TDX = "kubevirt.io/tdx";
export const LABEL_KUBEVIRT_SEV = "kubevirt.io/sev";
export const LABEL_KUBEVIRT_SEV_SNP = "kubevirt.io/sev-snp";

/** virt-handler's device plugins (virt-controller requests one per TDX / SEV VMI). */
export const DEVICE_TDX = "devices.kubevirt.io/tdx";
export const DEVICE_SEV = "devices.kubevirt.io/sev";

/** KubeVirt's default for confidentialCompute.tdx.attestation.qgsSocketPath. */
export const DEFAULT_QGS_SOCKET_PATH = "/var/run/tdx-qgs/qgs.socket";

export type Tee = "tdx" | "snp";

/** The KubeVirt API as the controller's caches see it. */
export type KubeVirtApi =
  | { state: "absent" }
  | { state: "syncing" }
  | {
      state: "synced";
      kubevirts: readonly KubeVirt[];
      /** Malformed fields left out of a CR (read-kubevirt.ts), by kubeVirtName. */
      invalid?: Readonly<Record<string, readonly string[]>>;
    };

/** One reason KubeVirt cannot launch the VM: a condition reason and a message naming exactly what is missing. */
export interface Finding {
  reason: string;
  message: string;
}

export const REASON_KUBEVIRT_NOT_INSTALLED = "KubeVirtNotInstalled";
export const REASON_KUBEVIRT_SYNCING = "KubeVirtNotSynced";
export const REASON_KUBEVIRT_NOT_DEPLOYED = "KubeVirtNotDeployed";
export const REASON_KUBEVIRT_CONFIG_INVALID = "KubeVirtConfigInvalid";
export const REASON_FEATURE_GATE_DISABLED = "FeatureGateDisabled";
export const REASON_HOST_DEVICE_NOT_PERMITTED = "HostDeviceNotPermitted";
export const REASON_QGS_NOT_ENFORCED = "QGSNotEnforced";
export const REASON_CDI_NOT_INSTALLED = "CDINotInstalled";
export const REASON_NODE_NOT_READY = "NodeNotReadyForKubeVirt";

export const KUBEVIRT_CRDS_MISSING =
  "KubeVirt CRDs not installed (kubevirt.io/v1 VirtualMachine, VirtualMachineInstance, KubeVirt)";

/** The cluster's KubeVirt: the one virt-operator deployed, else the first not being deleted (there should be one). */
export function activeKubeVirt(kubevirts: readonly KubeVirt[]): KubeVirt | undefined {
  const live = kubevirts.filter((kv) => kv.metadata?.deletionTimestamp === undefined);
  return live.find((kv) => kv.status?.phase === "Deployed") ?? live[0];
}

export function kubeVirtName(kv: KubeVirt): string {
  return `KubeVirt ${kv.metadata?.namespace ?? ""}/${kv.metadata?.name ?? ""}`;
}

/** `v1.9.0`, `v1.9.0-beta.0-1264-gd923fdb` → [1, 9]; undefined when there is no version. */
function minorVersion(version: string | undefined): [number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\./.exec(version ?? "");
  return match === null ? undefined : [Number(match[1]), Number(match[2])];
}

/**
 * KubeVirt's rule (featuregate.IsEnabled): listed in featureGates wins, then listed in disabledFeatureGates, then
 * Beta gates are on. WorkloadEncryptionTDX is Alpha; WorkloadEncryptionSEV is Beta from v1.9, Alpha before (and
 * taken as Alpha when the KubeVirt CR reports no version).
 */
export function featureGateEnabled(kv: KubeVirt, gate: string): boolean {
  const developer = kv.spec.configuration?.developerConfiguration;
  if ((developer?.featureGates ?? []).includes(gate)) return true;
  if ((developer?.disabledFeatureGates ?? []).includes(gate)) return false;
  if (gate !== FEATURE_GATE_SEV) return false;
  const version = minorVersion(kv.status?.observedKubeVirtVersion);
  return version !== undefined && (version[0] > 1 || (version[0] === 1 && version[1] >= 9));
}

function featureGateFinding(kv: KubeVirt, tee: Tee): Finding | undefined {
  const gate = tee === "tdx" ? FEATURE_GATE_TDX : FEATURE_GATE_SEV;
  if (featureGateEnabled(kv, gate)) return undefined;
  const developer = kv.spec.configuration?.developerConfiguration;
  const why = (developer?.disabledFeatureGates ?? []).includes(gate)
    ? "is listed in spec.configuration.developerConfiguration.disabledFeatureGates"
    : gate === FEATURE_GATE_TDX
      ? "(Alpha) is not listed in spec.configuration.developerConfiguration.featureGates"
      : `is not listed in spec.configuration.developerConfiguration.featureGates (on by default only from KubeVirt v1.9; this one reports ${kv.status?.observedKubeVirtVersion ?? "no version"})`;
  return {
    reason: REASON_FEATURE_GATE_DISABLED,
    message: `${kubeVirtName(kv)}: feature gate ${gate} ${why}, so KubeVirt refuses ${tee === "tdx" ? "TDX" : "SEV-SNP"} VMs`,
  };
}

export function qgsSocketPath(kv: KubeVirt): string {
  return (
    kv.spec.configuration?.confidentialCompute?.tdx?.attestation?.qgsSocketPath ?? DEFAULT_QGS_SOCKET_PATH
  );
}

/**
 * Without `enforced`, virt-handler's TDX device is healthy whether or not the QGS socket exists, so a TD may start
 * on a node where its guest can never get a quote. With it, devices.kubevirt.io/tdx is allocatable only while the
 * socket exists, which the node check below then sees.
 */
function qgsFinding(kv: KubeVirt): Finding | undefined {
  if (kv.spec.configuration?.confidentialCompute?.tdx?.attestation?.enforced === true) return undefined;
  return {
    reason: REASON_QGS_NOT_ENFORCED,
    message:
      `${kubeVirtName(kv)}: spec.configuration.confidentialCompute.tdx.attestation.enforced is not true, so KubeVirt ` +
      `starts TDX VMs on nodes without a Quote Generation Service (socket ${qgsSocketPath(kv)}) and their guests ` +
      "cannot get a TD quote to attest with",
  };
}

/** The permittedHostDevices entry for a resource, if KubeVirt lists it. */
export function permittedPciDevice(kv: KubeVirt, resourceName: string): V1PciHostDevice | undefined {
  return (kv.spec.configuration?.permittedHostDevices?.pciHostDevices ?? []).find(
    (d) => d.resourceName === resourceName,
  );
}

function hostDeviceFinding(kv: KubeVirt, resourceName: string): Finding | undefined {
  const permitted = permittedPciDevice(kv, resourceName);
  const where = `${kubeVirtName(kv)}: spec.configuration.permittedHostDevices.pciHostDevices`;
  if (permitted === undefined)
    return {
      reason: REASON_HOST_DEVICE_NOT_PERMITTED,
      message: `${where} does not list ${resourceName}, so virt-controller refuses the VM (add it with its pciVendorSelector and externalResourceProvider: true)`,
    };
  if (permitted.externalResourceProvider !== true)
    return {
      reason: REASON_HOST_DEVICE_NOT_PERMITTED,
      message: `${where} lists ${resourceName} without externalResourceProvider: true, so virt-handler serves it with its own device plugin instead of NVIDIA's`,
    };
  return undefined;
}

export interface ClusterPreflightInput {
  api: KubeVirtApi;
  tee: Tee;
  /** Device resources the VirtualMachine requests (GPUs, host devices). */
  deviceResources: readonly string[];
  /** Whether the VirtualMachine has `devices.hostDevices` (KubeVirt's HostDevices gate). */
  usesHostDevices?: boolean;
  /** Whether the image needs CDI (an http image is imported into a DataVolume). */
  needsCdi: boolean;
  /** Whether the DataVolume API is served; undefined when not known (then not checked here). */
  dataVolumeApi?: boolean;
}

/** What the cluster's KubeVirt lacks for one VM; empty when it can launch it. */
export function clusterFindings(input: ClusterPreflightInput): Finding[] {
  const { api } = input;
  if (api.state === "absent")
    return [{ reason: REASON_KUBEVIRT_NOT_INSTALLED, message: KUBEVIRT_CRDS_MISSING }];
  if (api.state === "syncing")
    return [
      { reason: REASON_KUBEVIRT_SYNCING, message: "the controller has not listed KubeVirt's objects yet" },
    ];
  const kv = activeKubeVirt(api.kubevirts);
  if (kv === undefined)
    return [
      {
        reason: REASON_KUBEVIRT_NOT_DEPLOYED,
        message: "no KubeVirt CR (kubevirt.io/v1 KubeVirt) exists: KubeVirt is not deployed",
      },
    ];
  const findings: Finding[] = [];
  const invalid = invalidFinding(api, kv);
  if (invalid !== undefined) findings.push(invalid);
  if (kv.status?.phase !== "Deployed")
    findings.push({
      reason: REASON_KUBEVIRT_NOT_DEPLOYED,
      message: `${kubeVirtName(kv)} is in phase ${kv.status?.phase ?? "(none)"}, not Deployed`,
    });
  const gate = featureGateFinding(kv, input.tee);
  if (gate !== undefined) findings.push(gate);
  if (input.usesHostDevices === true && !featureGateEnabled(kv, FEATURE_GATE_HOST_DEVICES))
    findings.push({
      reason: REASON_FEATURE_GATE_DISABLED,
      message: `${kubeVirtName(kv)}: feature gate ${FEATURE_GATE_HOST_DEVICES} (Alpha) is not listed in spec.configuration.developerConfiguration.featureGates, so KubeVirt refuses the VM's hostDevices`,
    });
  if (input.tee === "tdx") {
    const qgs = qgsFinding(kv);
    if (qgs !== undefined) findings.push(qgs);
  }
  for (const resource of new Set(input.deviceResources)) {
    const device = hostDeviceFinding(kv, resource);
    if (device !== undefined) findings.push(device);
  }
  if (input.needsCdi && input.dataVolumeApi === false)
    findings.push({
      reason: REASON_CDI_NOT_INSTALLED,
      message:
        "http images are imported by CDI, but the DataVolume API (cdi.kubevirt.io/v1beta1) is not installed",
    });
  return findings;
}

function invalidFinding(api: Extract<KubeVirtApi, { state: "synced" }>, kv: KubeVirt): Finding | undefined {
  const problems = api.invalid?.[kubeVirtName(kv)] ?? [];
  if (problems.length === 0) return undefined;
  return {
    reason: REASON_KUBEVIRT_CONFIG_INVALID,
    message: `${kubeVirtName(kv)} is malformed, so these fields were ignored: ${problems.join("; ")}`,
  };
}

function allocatable(node: V1Node, resource: string): number {
  const value = node.status?.allocatable?.[resource];
  const count = Number(value ?? 0);
  return Number.isFinite(count) ? count : 0;
}

export interface NodePreflightInput {
  nodeName: string;
  node: V1Node | undefined;
  tee: Tee;
  kubevirt: KubeVirt;
  /** Device resource name → how many the VM requests. */
  devices: ReadonlyMap<string, number>;
}

/**
 * What a Node lacks for KubeVirt to start the VM there: the labels virt-controller puts in the launcher pod's
 * nodeSelector, and the devices it requests. Each problem is phrased to follow "Node <name>".
 */
export function nodeProblems(input: NodePreflightInput): string[] {
  const { node, tee, kubevirt } = input;
  if (node === undefined) return ["not found"];
  const labels = node.metadata?.labels ?? {};
  const problems: string[] = [];
  const wanted: [string, string][] = [[LABEL_KUBEVIRT_SCHEDULABLE, "virt-handler runs there and takes VMs"]];
  if (tee === "tdx") wanted.push([LABEL_KUBEVIRT_TDX, "virt-handler found TDX support"]);
  else
    wanted.push(
      [LABEL_KUBEVIRT_SEV, "virt-handler found SEV support"],
      [LABEL_KUBEVIRT_SEV_SNP, "virt-handler found SEV-SNP support"],
    );
  for (const [label, meaning] of wanted)
    if (labels[label] !== "true")
      problems.push(`lacks label ${label}=true (${meaning}), which virt-controller requires for this VM`);
  const clusterSelectors = kubevirt.spec.configuration?.developerConfiguration?.nodeSelectors ?? {};
  for (const [label, value] of Object.entries(clusterSelectors))
    if (labels[label] !== value)
      problems.push(
        `has ${label}=${labels[label] ?? "<unset>"}, but ${kubeVirtName(kubevirt)} developerConfiguration.nodeSelectors wants ${value}`,
      );
  const teeDevice = tee === "tdx" ? DEVICE_TDX : DEVICE_SEV;
  if (allocatable(node, teeDevice) < 1)
    problems.push(
      tee === "tdx"
        ? `has no allocatable ${DEVICE_TDX} (virt-handler's TDX device: needs the ${FEATURE_GATE_TDX} gate, TDX keys in misc.capacity and, with QGS enforced, the socket ${qgsSocketPath(kubevirt)})`
        : `has no allocatable ${DEVICE_SEV} (virt-handler's /dev/sev device: needs the ${FEATURE_GATE_SEV} gate and /dev/sev)`,
    );
  for (const [resource, count] of input.devices) {
    const available = allocatable(node, resource);
    if (available < count)
      problems.push(`has ${String(available)} allocatable ${resource}, the VM needs ${String(count)}`);
  }
  return problems;
}

/** What the chosen Node lacks for KubeVirt to start the VM there, as findings. */
export function nodeFindings(input: NodePreflightInput): Finding[] {
  return nodeProblems(input).map((problem) => ({
    reason: REASON_NODE_NOT_READY,
    message: `Node ${input.nodeName} ${problem}`,
  }));
}

/** Cluster-wide checks, for the trustgate_kubevirt_ready metric: each true when KubeVirt is ready in that respect. */
export const CLUSTER_CHECKS = [
  "installed",
  "config-valid",
  "deployed",
  "feature-gate-tdx",
  "feature-gate-sev",
  "tdx-qgs-enforced",
  "gpu-host-devices",
] as const;
export type ClusterCheck = (typeof CLUSTER_CHECKS)[number];

export interface ClusterCheckResult {
  check: ClusterCheck;
  ok: boolean;
  /** Why not, when not ok. */
  message?: string;
}

/** NVIDIA's PCI vendor ID, as permittedHostDevices selectors write it. */
const NVIDIA_SELECTOR_PREFIX = "10de:";

/** The cluster-wide state of each check, independent of any ConfidentialVM. */
export function clusterChecks(api: KubeVirtApi): ClusterCheckResult[] {
  const installed = api.state !== "absent";
  const kv = api.state === "synced" ? activeKubeVirt(api.kubevirts) : undefined;
  const unknown = !installed
    ? KUBEVIRT_CRDS_MISSING
    : api.state === "syncing"
      ? "KubeVirt objects not listed yet"
      : "no KubeVirt CR exists";
  const result = (check: ClusterCheck, finding: Finding | undefined): ClusterCheckResult =>
    kv === undefined
      ? { check, ok: false, message: unknown }
      : finding === undefined
        ? { check, ok: true }
        : { check, ok: false, message: finding.message };
  const gpuDevices = (kv?.spec.configuration?.permittedHostDevices?.pciHostDevices ?? []).filter(
    (d) =>
      d.pciVendorSelector.toLowerCase().startsWith(NVIDIA_SELECTOR_PREFIX) &&
      d.externalResourceProvider === true,
  );
  return [
    installed
      ? { check: "installed", ok: true }
      : { check: "installed", ok: false, message: KUBEVIRT_CRDS_MISSING },
    result("config-valid", kv === undefined || api.state !== "synced" ? undefined : invalidFinding(api, kv)),
    result(
      "deployed",
      kv?.status?.phase === "Deployed"
        ? undefined
        : { reason: REASON_KUBEVIRT_NOT_DEPLOYED, message: `phase ${kv?.status?.phase ?? "(none)"}` },
    ),
    result("feature-gate-tdx", kv === undefined ? undefined : featureGateFinding(kv, "tdx")),
    result("feature-gate-sev", kv === undefined ? undefined : featureGateFinding(kv, "snp")),
    result("tdx-qgs-enforced", kv === undefined ? undefined : qgsFinding(kv)),
    result(
      "gpu-host-devices",
      gpuDevices.length > 0
        ? undefined
        : {
            reason: REASON_HOST_DEVICE_NOT_PERMITTED,
            message:
              "permittedHostDevices.pciHostDevices lists no NVIDIA device with externalResourceProvider: true",
          },
    ),
  ];
}
