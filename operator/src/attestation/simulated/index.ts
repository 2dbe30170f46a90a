/**
 * Simulated TEEs (TDX, SNP), GPUs and collateral services (Intel PCS, AMD KDS) for tests and demos: evidence in the
 * real formats, signed by a simulated PKI whose roots are trusted only when passed explicitly
 * (`--test-trust-roots`). Never trusted by default.
 */
export { amdAnchors, generateAmdCa, issueAmdLeaf, makeFakeAmdPki, type AmdCa } from "./amd-pki.ts";
export { simulatedChipId, simulatedGpuSerial } from "./device-identity.ts";
export type { SimulatedHardware } from "./hardware.ts";
export {
  generateNvidiaCa,
  issueNvidiaDevice,
  makeFakeNvidiaPki,
  nvidiaAnchors,
  type NvidiaCa,
} from "./nvidia-pki.ts";
export {
  createSimPki,
  generateSimPki,
  loadSimPki,
  TRUST_ROOTS_FILE,
  writeSimPki,
  type SimPki,
  type SimulatedSnpProduct,
} from "./sim-pki.ts";
export {
  SIMULATED_GPU_DRIVER_VERSION,
  SIMULATED_GPU_SYSTEM,
  SIMULATED_GPU_VBIOS_VERSION,
  SimulatedGpus,
  type SimulatedGpuOptions,
} from "./simulated-gpus.ts";
export {
  SIMULATED_NVSWITCH_BIOS_VERSION,
  SimulatedNvSwitches,
  type SimulatedNvSwitchOptions,
} from "./simulated-nvswitches.ts";
export {
  SIMULATED_SNP_MEASUREMENT,
  SIMULATED_SNP_POLICY,
  SIMULATED_SNP_TCB,
  SimulatedSnpTee,
  type SimulatedSnpOptions,
} from "./simulated-snp.ts";
export {
  SIMULATED_TDX_FMSPC,
  SIMULATED_TDX_MRTD,
  SIMULATED_TDX_RTMRS,
  SimulatedTdxTee,
  type SimulatedTdxOptions,
} from "./simulated-tdx.ts";
export { SimulatedTee, type SimulatedTeeOptions } from "./simulated-tee.ts";
export { simulatedVcek } from "./simulated-vcek.ts";
export {
  generateIntelCa,
  issuePckLeaf,
  simulatedPckSerial,
  type IntelCa,
  type IntelIdentity,
} from "./intel-pki.ts";
export { SimulatedIntelCollateral, type SimulatedIntelCollateralOptions } from "./tdx-collateral.ts";
export {
  amdKdsRoute,
  intelPcsRoute,
  simulatedCollateralSource,
  type CollateralAnswer,
  type CollateralRoute,
} from "./collateral-routes.ts";
export { kdsFromItem, pccsFromItem } from "./item-collateral-routes.ts";
export {
  startSimulatedCollateralServices,
  type CollateralFault,
  type CollateralServicesOptions,
  type SimulatedCollateralServices,
} from "./collateral-services.ts";
export {
  loadTestTrustRoots,
  parseTestTrustRoots,
  TEST_TRUST_ROOTS_KIND,
  testTrustRootsFile,
  type TestTdxRoots,
  type TestTrustRoots,
  type TestTrustRootsFile,
} from "./test-trust-roots.ts";
export {
  backendsTrusting,
  simulatedBackends,
  simulatedTdxAnchors,
  type VerifierBackends,
} from "./backends.ts";
