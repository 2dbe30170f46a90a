import type { HostRoot } from "../host-root.ts";
import { readMiscCapacity } from "./misc-cgroup.ts";
import { parseKernelBool, parseLine, valueOf } from "./read-helpers.ts";
import type { Source, SourceOutput } from "./source.ts";
import { teeStateFrom, type TeeFacts } from "./tee-state.ts";

const KVM_AMD = "/sys/module/kvm_amd";
const CCP_DRIVER = "/sys/bus/pci/drivers/ccp";
/*
 * No SEV-SNP firmware version is read on the host: no kernel exposes it in sysfs (it answers the
 * /dev/sev SNP_PLATFORM_STATUS ioctl, which needs a privileged helper), and the ccp driver's
 * `tee_version` is the PSP TEE's version, not the SEV firmware's. A hand-written file would only be
 * the host owner's word. The firmware's security version is what counts, and the guest's attestation
 * report carries it signed by AMD (REPORTED_TCB, checked against the VCEK's TCB and the policy's
 * spec.snp.minTcb).
 */
const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

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
    const [capacity] = await Promise.all([readMiscCapacity(host), pspVersions(host, problems, details)]);
    const capacities = valueOf(capacity, state === "enabled" ? problems : [], state !== "enabled");
    const sevAsids = capacities?.get("sev");
    // SEV-SNP guests take their ASIDs from the SEV-ES range.
    const esAsids = capacities?.get("sev_es");
    details["sevAsids"] = sevAsids === undefined ? "unknown" : String(sevAsids);
    details["sevEsAsids"] = esAsids === undefined ? "unknown" : String(esAsids);

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
    }
    return { facts: { state }, details, problems };
  },
};
