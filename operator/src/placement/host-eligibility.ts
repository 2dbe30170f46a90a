import type { ConfidentialHost } from "../api/v1alpha1/generated/types.ts";
import type { HostPolicy } from "../attestation/policy/compiled-policy.ts";
import { isConditionTrue } from "../runtime/conditions.ts";
import { CONDITION_VALIDATED } from "../api/v1alpha1/confidential-host-conditions.ts";

export interface Eligibility {
  eligible: boolean;
  /** Every reason the host is refused, e.g. "BIOS 2.0 not in [2.1, 2.2]". */
  reasons: string[];
}

function parseHex(value: string | undefined): bigint | undefined {
  if (value === undefined || !/^0x[0-9a-f]+$/i.test(value)) return undefined;
  return BigInt(value);
}

function notIn(what: string, actual: string | undefined, allowed: readonly string[] | undefined): string[] {
  if (allowed === undefined || allowed.length === 0) return [];
  if (actual !== undefined && allowed.includes(actual)) return [];
  return [`${what} ${actual ?? "unknown"} not in [${allowed.join(", ")}]`];
}

/**
 * Is host H eligible for VMs under the compiled policy's host rules, and if not, why. Pure: the VM controller calls
 * it while scheduling. An unset rule is not checked (the CRD defaults require IOMMU and GPU CC mode on); every
 * failed check is reported.
 */
export function evaluateHostEligibility(host: ConfidentialHost, rules: HostPolicy): Eligibility {
  const status = host.status;
  const reasons: string[] = [];
  if (!isConditionTrue(status?.conditions, CONDITION_VALIDATED)) {
    const validated = status?.conditions?.find((c) => c.type === CONDITION_VALIDATED);
    reasons.push(`host not Validated${validated === undefined ? "" : `: ${validated.message}`}`);
  }
  const platform = status?.platform;
  reasons.push(...notIn("BIOS", platform?.biosVersion, rules.allowedBiosVersions));
  if (rules.minMicrocode !== undefined) {
    const actual = parseHex(platform?.microcode);
    const minimum = parseHex(rules.minMicrocode);
    if (actual === undefined || minimum === undefined || actual < minimum) {
      reasons.push(`microcode ${platform?.microcode ?? "unknown"} below ${rules.minMicrocode}`);
    }
  }
  const tee = status?.tee;
  if (tee?.type === "tdx")
    reasons.push(...notIn("TDX module", tee.moduleVersion, rules.allowedTdxModuleVersions));
  if (tee?.type === "snp")
    reasons.push(...notIn("SNP firmware", tee.firmwareVersion, rules.allowedSnpFirmwareVersions));
  if (rules.requireIommu && status?.iommu?.enabled !== true) reasons.push("IOMMU required but disabled");
  const requiredCc = rules.requireGpuCcMode;
  for (const gpu of status?.gpus ?? []) {
    if (gpu.ccMode !== requiredCc)
      reasons.push(`GPU ${gpu.pciAddress} CC mode ${gpu.ccMode}, policy requires ${requiredCc}`);
    reasons.push(...notIn(`GPU ${gpu.pciAddress} VBIOS`, gpu.vbiosVersion, rules.allowedVbiosVersions));
  }
  return { eligible: reasons.length === 0, reasons };
}
