import type { HostRoot, ParseResult } from "../host-root.ts";
import { readMiscCapacity } from "./misc-cgroup.ts";
import { parseKernelBool, parseLine, valueOf } from "./read-helpers.ts";
import type { Source, SourceOutput } from "./source.ts";
import { teeStateFrom, type TeeFacts } from "./tee-state.ts";

const KVM_AMD = "/sys/module/kvm_amd";
const CCP_DRIVER = "/sys/bus/pci/drivers/ccp";
/**
 * The kernel logs the SEV firmware version ("SEV-SNP API:1.55 build:21") and answers it through the
 * /dev/sev SNP_PLATFORM_STATUS ioctl, but exposes it in no sysfs file. An admin or an init container
 * (e.g. running snphost) writes it here as "1.55.21".
 */
export const SNP_FIRMWARE_FILE = "/etc/trustgate/snp-firmware-version";

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

function parseFirmwareVersion(text: string): ParseResult<string> {
  return /^\d{1,3}\.\d{1,3}(\.\d{1,5})?$/.test(text)
    ? { ok: true, value: text }
    : { ok: false, reason: `expected major.minor.build, got ${JSON.stringify(text.slice(0, 32))}` };
}

/** PSP firmware versions the ccp driver shows on some parts (Linux 6.4+, sysfs-driver-ccp ABI). */
async function pspVersions(
  host: HostRoot,
  problems: string[],
  details: Record<string, string>,
): Promise<void> {
  const bound = await host.list(CCP_DRIVER);
  if (bound.kind !== "value") return;
  for (const bdf of bound.value.filter((name) => BDF.test(name))) {
    const [tee, bootloader] = await Promise.all([
      host.readValue(`${CCP_DRIVER}/${bdf}/tee_version`, parseLine(32)),
      host.readValue(`${CCP_DRIVER}/${bdf}/bootloader_version`, parseLine(32)),
    ]);
    const teeVersion = valueOf(tee, problems, true);
    const bootloaderVersion = valueOf(bootloader, problems, true);
    if (teeVersion !== undefined) details["pspTeeVersion"] = teeVersion;
    if (bootloaderVersion !== undefined) details["pspBootloaderVersion"] = bootloaderVersion;
    if (teeVersion !== undefined || bootloaderVersion !== undefined) return;
  }
}

export const snpSource: Source<TeeFacts> = {
  name: "snp",
  async scan({ host }): Promise<SourceOutput<TeeFacts>> {
    const problems: string[] = [];
    const details: Record<string, string> = {};
    const param = (name: string) => host.readValue(`${KVM_AMD}/parameters/${name}`, parseKernelBool);
    const [snp, sev, sevEs, module] = await Promise.all([
      param("sev_snp"),
      param("sev"),
      param("sev_es"),
      host.entryType(KVM_AMD),
    ]);
    let state = teeStateFrom(snp, module.kind === "value", problems, details, "kvmAmdSevSnp");
    if (state === "absent" || state === "unknown") return { facts: { state }, details, problems };

    for (const [key, read] of [
      ["kvmAmdSev", sev],
      ["kvmAmdSevEs", sevEs],
    ] as const) {
      const value = valueOf(read, problems);
      details[key] = value === undefined ? "unknown" : value ? "Y" : "N";
    }
    const [capacity, firmware] = await Promise.all([
      readMiscCapacity(host),
      host.readValue(SNP_FIRMWARE_FILE, parseFirmwareVersion),
      pspVersions(host, problems, details),
    ]);
    const capacities = valueOf(capacity, state === "enabled" ? problems : [], state !== "enabled");
    const sevAsids = capacities?.get("sev");
    // SEV-SNP guests take their ASIDs from the SEV-ES range.
    const esAsids = capacities?.get("sev_es");
    details["sevAsids"] = sevAsids === undefined ? "unknown" : String(sevAsids);
    details["sevEsAsids"] = esAsids === undefined ? "unknown" : String(esAsids);

    let version = valueOf(firmware, problems, true);
    if (state === "enabled") {
      if (esAsids === 0) {
        problems.push("SEV-SNP is enabled in KVM but the platform has 0 SEV-ES/SNP ASIDs");
        state = "disabled";
      } else if (esAsids === undefined && capacities !== undefined)
        problems.push("/sys/fs/cgroup/misc.capacity has no sev_es resource");
      if (details["kvmAmdSevEs"] === "N") {
        problems.push("SEV-SNP is enabled but kvm_amd sev_es is off");
        state = "disabled";
      }
      if (version === undefined) {
        problems.push(
          `SEV-SNP firmware version unknown: the kernel does not expose it; write it to ${SNP_FIRMWARE_FILE}`,
        );
        version = "unknown";
      }
    }
    return { facts: version === undefined ? { state } : { state, version }, details, problems };
  },
};
