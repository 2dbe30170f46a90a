/**
 * Simulated TEE and GPUs for tests and demos: evidence in the real formats, signed by a simulated PKI whose roots
 * are trusted only when passed explicitly (`--test-trust-roots`). Never trusted by default.
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
  SIMULATED_GPU_VBIOS_VERSION,
  SimulatedGpus,
  type SimulatedGpuOptions,
} from "./simulated-gpus.ts";
export {
  SIMULATED_SNP_MEASUREMENT,
  SIMULATED_SNP_POLICY,
  SIMULATED_SNP_TCB,
  SimulatedSnpTee,
  type SimulatedSnpOptions,
} from "./simulated-snp.ts";
export {
  loadTestTrustRoots,
  parseTestTrustRoots,
  TEST_TRUST_ROOTS_KIND,
  testTrustRootsFile,
  type TestTrustRoots,
  type TestTrustRootsFile,
} from "./test-trust-roots.ts";
export { backendsTrusting, simulatedBackends, type VerifierBackends } from "./backends.ts";
