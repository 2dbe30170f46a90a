import type { KubeVirt, V1PciHostDevice } from "./generated/types.ts";

/**
 * The fields of a KubeVirt CR the preflight reads, each checked for the type KubeVirt's schema gives it: a CR
 * stored under another CRD version (or a schema that preserves unknown fields) may hold anything. A malformed field
 * is left out and named in `problems`, so the preflight never throws on it and says what is wrong.
 */
export function readKubeVirt(raw: KubeVirt): { kubevirt: KubeVirt; problems: string[] } {
  const problems: string[] = [];
  const config = record(raw.spec, "spec", problems)?.["configuration"];
  const configuration = record(config, "spec.configuration", problems);
  const developer = record(configuration?.["developerConfiguration"], "developerConfiguration", problems);
  const permitted = record(configuration?.["permittedHostDevices"], "permittedHostDevices", problems);
  const compute = record(configuration?.["confidentialCompute"], "confidentialCompute", problems);
  const tdx = record(compute?.["tdx"], "confidentialCompute.tdx", problems);
  const attestation = record(tdx?.["attestation"], "confidentialCompute.tdx.attestation", problems);
  const status = record(raw.status, "status", problems);
  const path = "spec.configuration.developerConfiguration";
  const featureGates = strings(developer?.["featureGates"], `${path}.featureGates`, problems);
  const disabledFeatureGates = strings(
    developer?.["disabledFeatureGates"],
    `${path}.disabledFeatureGates`,
    problems,
  );
  const nodeSelectors = stringMap(developer?.["nodeSelectors"], `${path}.nodeSelectors`, problems);
  const pciHostDevices = pciDevices(permitted?.["pciHostDevices"], problems);
  const enforced = typed(attestation?.["enforced"], "boolean", "tdx.attestation.enforced", problems);
  const qgsSocketPath = typed(
    attestation?.["qgsSocketPath"],
    "string",
    "tdx.attestation.qgsSocketPath",
    problems,
  );
  const phase = typed(status?.["phase"], "string", "status.phase", problems);
  const version = typed(
    status?.["observedKubeVirtVersion"],
    "string",
    "status.observedKubeVirtVersion",
    problems,
  );
  const kubevirt: KubeVirt = {
    apiVersion: "kubevirt.io/v1",
    kind: "KubeVirt",
    ...(raw.metadata === undefined ? {} : { metadata: raw.metadata }),
    spec: {
      configuration: {
        developerConfiguration: {
          ...(featureGates === undefined ? {} : { featureGates }),
          ...(disabledFeatureGates === undefined ? {} : { disabledFeatureGates }),
          ...(nodeSelectors === undefined ? {} : { nodeSelectors }),
        },
        ...(pciHostDevices === undefined ? {} : { permittedHostDevices: { pciHostDevices } }),
        confidentialCompute: {
          tdx: {
            attestation: {
              ...(enforced === undefined ? {} : { enforced: enforced as boolean }),
              ...(qgsSocketPath === undefined ? {} : { qgsSocketPath: qgsSocketPath as string }),
            },
          },
        },
      },
    },
    status: {
      ...(phase === undefined ? {} : { phase: phase as string }),
      ...(version === undefined ? {} : { observedKubeVirtVersion: version as string }),
    },
  };
  return { kubevirt, problems };
}

function record(value: unknown, path: string, problems: string[]): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  problems.push(`${path} is not an object`);
  return undefined;
}

function typed(value: unknown, type: "string" | "boolean", path: string, problems: string[]): unknown {
  if (value === undefined || value === null) return undefined;
  if (typeof value === type) return value;
  problems.push(`${path} is not a ${type}`);
  return undefined;
}

function strings(value: unknown, path: string, problems: string[]): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
  problems.push(`${path} is not a list of strings`);
  return undefined;
}

function stringMap(value: unknown, path: string, problems: string[]): Record<string, string> | undefined {
  const map = record(value, path, problems);
  if (map === undefined) return undefined;
  if (Object.values(map).every((v) => typeof v === "string")) return map as Record<string, string>;
  problems.push(`${path} has a value that is not a string`);
  return undefined;
}

function pciDevices(value: unknown, problems: string[]): V1PciHostDevice[] | undefined {
  if (value === undefined || value === null) return undefined;
  const path = "spec.configuration.permittedHostDevices.pciHostDevices";
  if (!Array.isArray(value)) {
    problems.push(`${path} is not a list`);
    return undefined;
  }
  return value.flatMap((entry: unknown, i): V1PciHostDevice[] => {
    const device = record(entry, `${path}[${String(i)}]`, problems);
    const selector = device?.["pciVendorSelector"];
    const resourceName = device?.["resourceName"];
    const external = device?.["externalResourceProvider"];
    if (typeof selector !== "string" || typeof resourceName !== "string") {
      if (device !== undefined)
        problems.push(`${path}[${String(i)}] needs a pciVendorSelector and a resourceName`);
      return [];
    }
    if (external !== undefined && typeof external !== "boolean")
      problems.push(`${path}[${String(i)}].externalResourceProvider is not a boolean`);
    return [
      {
        pciVendorSelector: selector,
        resourceName,
        ...(typeof external === "boolean" ? { externalResourceProvider: external } : {}),
      },
    ];
  });
}
