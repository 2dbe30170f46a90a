/** The GPU part of `trustgate verify`: offline RIM, OCSP and NRAS sources from flags. */
import { stat } from "node:fs/promises";
import { createLocalGpuVerifier } from "../attestation/gpu/verifier.ts";
import { directoryOcspSource } from "../attestation/gpu/ocsp/ocsp-source.ts";
import { createOcspRevocationChecker } from "../attestation/gpu/ocsp/revocation.ts";
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
    ["nras-token", sources.nrasToken],
    ["nras-jwks", sources.nrasJwks],
  ] as const) {
    if (value !== undefined) throw new UsageError(`trustgate verify: --${flag} is not supported yet`);
  }
  if (sources.rimDirs.length === 0 && sources.ocspDir === undefined) return fallback();
  const rimDirs = await Promise.all(sources.rimDirs.map((d) => directory(d, "rim-dir")));
  const ocspDir = sources.ocspDir === undefined ? undefined : await directory(sources.ocspDir, "ocsp-dir");
  return createLocalGpuVerifier({
    measurements: createRimAppraiser({ source: firstRimSource(rimDirs.map(directoryRimSource)) }),
    revocation: createOcspRevocationChecker({
      sources: ocspDir === undefined ? [] : [directoryOcspSource(ocspDir)],
    }),
  });
}
