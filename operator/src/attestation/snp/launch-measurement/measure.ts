/**
 * Expected SEV-SNP launch MEASUREMENT of a QEMU/KVM guest booted from an OVMF image without
 * kernel hashes, IGVM or SVSM, in the order QEMU issues SNP_LAUNCH_UPDATE: the firmware pages, the
 * pages the SEV metadata declares, then one VMSA per vCPU.
 */
import { LaunchMeasurementError } from "./errors.ts";
import { LaunchDigest, PageType } from "./launch-digest.ts";
import { type OvmfImage, type SevMetadataSection } from "./ovmf.ts";
import { resolveVcpuSignature, type VcpuIdentity } from "./vcpu.ts";
import { BSP_RESET_EIP, buildVmsa, type VmmType } from "./vmsa.ts";

/** A bound far above any KubeVirt VM shape: a larger count is a typo, and each vCPU costs a hash. */
export const MAX_VCPUS = 512;

/** SEV_FEATURES bit 0, SNPActive: set for every SNP guest. */
export const SEV_FEATURE_SNP_ACTIVE = 1n;

export interface SnpMeasurementInputs {
  vcpus: number;
  /** Required for QEMU, which puts the vCPU signature in RDX; ec2 and gce use a fixed value. */
  vcpu?: VcpuIdentity;
  vmm: VmmType;
  /** The VMSA's SEV_FEATURES (sev-snp-measure's --guest-features): 0x1 (SNPActive) or e.g. 0x21 with DebugSwap. */
  guestFeatures: bigint;
}

/**
 * Bits other than SNPActive are not checked against a list: AMD keeps defining new ones, and the CPU
 * refuses to run a VMSA with features the platform does not support, so such a guest never reports.
 */
export function checkGuestFeatures(features: bigint): void {
  const hex = `0x${features.toString(16)}`;
  if (features < 0n || features >= 1n << 64n) {
    throw new LaunchMeasurementError("InvalidGuestFeatures", `guest features ${hex} do not fit in 64 bits`);
  }
  if ((features & SEV_FEATURE_SNP_ACTIVE) === 0n) {
    throw new LaunchMeasurementError(
      "InvalidGuestFeatures",
      `guest features ${hex} lack bit 0 (SNPActive), which every SNP guest sets`,
    );
  }
}

export function checkVcpuCount(vcpus: number): void {
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) {
    throw new LaunchMeasurementError(
      "InvalidVcpuCount",
      `vCPU count ${vcpus} is not an integer in 1..${MAX_VCPUS}`,
    );
  }
}

/** The digest after the firmware pages alone (sev-snp-measure's snp:ovmf-hash); it does not depend on the VM shape. */
export function measureFirmware(ovmf: OvmfImage): Uint8Array {
  const digest = new LaunchDigest();
  digest.normalPages(ovmf.gpa, ovmf.bytes);
  return digest.value;
}

function measureSection(digest: LaunchDigest, section: SevMetadataSection, vmm: VmmType): void {
  switch (section.type) {
    case "SnpSecMemory":
      // GCE launches the pre-validated memory as unmeasured pages, the others as zero pages.
      digest.emptyPages(vmm === "gce" ? PageType.Unmeasured : PageType.Zero, section.gpa, section.size);
      return;
    case "SnpSecrets":
      digest.emptyPages(PageType.Secrets, section.gpa, section.size);
      return;
    case "Cpuid":
      // EC2 adds the CPUID page after all other metadata pages.
      if (vmm !== "ec2") digest.emptyPages(PageType.Cpuid, section.gpa, section.size);
      return;
    case "SvsmCaa":
    case "SnpKernelHashes":
      // The SVSM calling area starts zeroed; so does the kernel-hashes page without -kernel (KubeVirt boots from disk).
      digest.emptyPages(PageType.Zero, section.gpa, section.size);
      return;
  }
}

/**
 * The 48-byte launch MEASUREMENT for `inputs.vcpus` vCPUs. `firmwareDigest` (from measureFirmware)
 * may be passed to reuse the firmware part across VM shapes.
 */
export function computeSnpLaunchMeasurement(
  ovmf: OvmfImage,
  inputs: SnpMeasurementInputs,
  firmwareDigest: Uint8Array = measureFirmware(ovmf),
): Uint8Array {
  checkVcpuCount(inputs.vcpus);
  checkGuestFeatures(inputs.guestFeatures);
  let vcpuSignature = 0;
  if (inputs.vmm === "QEMU") {
    if (inputs.vcpu === undefined) {
      throw new LaunchMeasurementError(
        "UnknownVcpuType",
        "QEMU puts the vCPU signature in the VMSA: give the vCPU type, signature or family/model/stepping",
      );
    }
    vcpuSignature = resolveVcpuSignature(inputs.vcpu);
  }
  const digest = new LaunchDigest(firmwareDigest);
  for (const section of ovmf.sections) measureSection(digest, section, inputs.vmm);
  if (inputs.vmm === "ec2") {
    for (const section of ovmf.sections.filter((s) => s.type === "Cpuid")) {
      digest.emptyPages(PageType.Cpuid, section.gpa, section.size);
    }
  }
  const vmsa = (eip: number): Uint8Array =>
    buildVmsa({ eip, vcpuSignature, sevFeatures: inputs.guestFeatures, vmm: inputs.vmm });
  const bsp = vmsa(BSP_RESET_EIP);
  const ap = vmsa(ovmf.resetEip);
  for (let i = 0; i < inputs.vcpus; i++) digest.vmsaPage(i === 0 ? bsp : ap);
  return digest.value;
}
