/** NVIDIA GPU / NVSwitch evidence: parse (spdm-evidence.ts) -> verify (verifier.ts) -> rim/, ocsp/, nras/. */
export {
  MEASUREMENTS_UNCHECKED,
  REVOCATION_UNCHECKED,
  type AuthenticGpuEvidence,
  type GpuEvidenceEntry,
  type GpuMeasurementAppraiser,
  type GpuRevocationChecker,
  type MeasurementAppraisal,
  type RevocationCheck,
} from "./checks.ts";
export {
  DeviceChainVerifier,
  PINNED_NVIDIA_ANCHORS,
  type DeviceArch,
  type DeviceKind,
  type GpuTrustAnchors,
  type VerifiedDevice,
} from "./device-chain.ts";
export { NVIDIA_DEVICE_IDENTITY_CA } from "./nvidia-roots.ts";
export {
  decodeVbiosVersion,
  OPAQUE_FIELD_NAMES,
  type OpaqueClaims,
  type OpaqueField,
} from "./opaque-data.ts";
export { parseSpdmEvidence, type MeasurementBlock, type SpdmEvidence } from "./spdm-evidence.ts";
export {
  createLocalGpuVerifier,
  localGpuVerifier,
  type LocalGpuResult,
  type LocalGpuVerifier,
  type LocalGpuVerifierConfig,
} from "./verifier.ts";
