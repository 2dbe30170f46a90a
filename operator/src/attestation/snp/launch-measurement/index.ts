export { LaunchMeasurementError, type LaunchMeasurementErrorReason } from "./errors.ts";
export { DIGEST_BYTES, LaunchDigest, PageType, VMSA_GPA } from "./launch-digest.ts";
export {
  checkGuestFeatures,
  checkVcpuCount,
  computeSnpLaunchMeasurement,
  MAX_VCPUS,
  measureFirmware,
  SEV_FEATURE_SNP_ACTIVE,
  type SnpMeasurementInputs,
} from "./measure.ts";
export { MAX_OVMF_BYTES, parseOvmf, SectionType, type OvmfImage, type SevMetadataSection } from "./ovmf.ts";
export {
  cpuSignature,
  resolveVcpuSignature,
  VCPU_TYPES,
  type CpuFamilyModelStepping,
  type VcpuIdentity,
} from "./vcpu.ts";
export { BSP_RESET_EIP, buildVmsa, parseVmmType, VMM_TYPES, type VmmType } from "./vmsa.ts";
