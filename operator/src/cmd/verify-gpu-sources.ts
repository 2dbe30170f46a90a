/** The GPU part of `trustgate verify`: offline RIM, OCSP and NRAS sources from flags. */
import { stat } from "node:fs/promises";
import { createLocalGpuVerifier } from "../attestation/gpu/verifier.ts";
import { createRimAppraiser } from "../attestation/gpu/rim/appraiser.ts";
import { directoryRimSource, firstRimSource } from "../attestation/gpu/rim/rim-source.ts";
import type { GpuEvidenceVerifier } from "../attestation/verify-bundle.ts";
import { UsageError } from "../cli/command.ts";

export interface GpuCliSources {
  rimDirs: string[];
  ocspDir?: string;
  nrasToken?: string;
  nrasJwks?: string;
}

async function directory(path: string, flag: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory() !== true)
    throw new UsageError(`trustgate verify: --${flag} ${path} is not a directory`);
  return path;
}

/** The default GPU verifier, or one that also uses the offline sources the flags name. */
export async function gpuVerifierFor(
  sources: GpuCliSources,
  fallback: () => GpuEvidenceVerifier,
): Promise<GpuEvidenceVerifier> {
  for (const [flag, value] of [
    ["ocsp-dir", sources.ocspDir],
    ["nras-token", sources.nrasToken],
    ["nras-jwks", sources.nrasJwks],
  ] as const) {
    // Reserved for OCSP and NRAS remote mode, which are not implemented yet: refuse rather than ignore.
    if (value !== undefined) throw new UsageError(`trustgate verify: --${flag} is not supported yet`);
  }
  if (sources.rimDirs.length === 0) return fallback();
  const rimDirs = await Promise.all(sources.rimDirs.map((d) => directory(d, "rim-dir")));
  return createLocalGpuVerifier({
    measurements: createRimAppraiser({ source: firstRimSource(rimDirs.map(directoryRimSource)) }),
  });
}
