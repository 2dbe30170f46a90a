/** Collateral sources: offline directory, Intel PCS/PCCS, and a cache that respects nextUpdate. */
export { createCachingSource, firstAvailable, type CachingSourceOptions } from "./caching-source.ts";
export { collateralFileName, createDirectorySource } from "./directory-source.ts";
export {
  createIntelPcsSource,
  INTEL_PCS_URL,
  INTEL_ROOT_CA_CRL_URL,
  type IntelPcsSourceOptions,
} from "./intel-pcs-source.ts";
export * from "./kinds.ts";
export { collateralNextUpdate } from "./next-update.ts";
