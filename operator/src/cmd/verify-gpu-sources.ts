/** The GPU part of `trustgate verify`: offline RIM, OCSP and NRAS sources from flags. */
import { readFile, stat } from "node:fs/promises";
import { PINNED_NVIDIA_ANCHORS } from "../attestation/gpu/device-chain.ts";
import { nrasKeySource } from "../attestation/gpu/nras/nras-keys.ts";
import { createNrasAppraiser, fixedEatSource } from "../attestation/gpu/nras/remote.ts";
import { createLocalGpuVerifier } from "../attestation/gpu/verifier.ts";
import { directoryOcspSource } from "../attestation/gpu/ocsp/ocsp-source.ts";
import { createOcspRevocationChecker } from "../attestation/gpu/ocsp/revocation.ts";
import { createRimAppraiser } from "../attestation/gpu/rim/rim-measurement-check.ts";
import { directoryRimSource, firstRimSource } from "../attestation/gpu/rim/rim-source.ts";
import type { GpuEvidenceVerifier } from "../attestation/types.ts";
import { InputError, UsageError } from "../cli/command.ts";

export interface GpuCliSources {
  rimDirs: string[];
  ocspDir?: string;
  nrasToken?: string;
  nrasJwks?: string;
}

async function directory(path: string, flag: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory() !== true)
    throw new InputError(`trustgate verify: --${flag} ${path} is not a directory`);
  return path;
}

/** `--nras-token <file>` with `--nras-jwks <file|url>`: remote-mode appraisal of that token. */
async function nrasAppraiser(token: string | undefined, jwks: string | undefined) {
  if (token === undefined && jwks === undefined) return undefined;
  if (token === undefined || jwks === undefined)
    throw new UsageError("trustgate verify: --nras-token and --nras-jwks go together");
  let text: string;
  try {
    text = await readFile(token, "utf8");
  } catch (error) {
    throw new InputError(`trustgate verify: --nras-token ${token}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!/^https:\/\//i.test(jwks)) {
    const info = await stat(jwks).catch(() => undefined);
    if (info?.isFile() !== true)
      throw new InputError(`trustgate verify: --nras-jwks ${jwks} is neither an https URL nor a file`);
  }
  return createNrasAppraiser({
    source: fixedEatSource(text),
    keys: nrasKeySource(jwks, { roots: PINNED_NVIDIA_ANCHORS.roots }),
  });
}

/** The default GPU verifier, or one that also uses the offline sources the flags name. */
export async function gpuVerifierFor(
  sources: GpuCliSources,
  fallback: () => GpuEvidenceVerifier,
): Promise<GpuEvidenceVerifier> {
  const remote = await nrasAppraiser(sources.nrasToken, sources.nrasJwks);
  if (sources.rimDirs.length === 0 && sources.ocspDir === undefined && remote === undefined)
    return fallback();
  const rimDirs = await Promise.all(sources.rimDirs.map((d) => directory(d, "rim-dir")));
  const ocspDir = sources.ocspDir === undefined ? undefined : await directory(sources.ocspDir, "ocsp-dir");
  return createLocalGpuVerifier({
    measurements: createRimAppraiser({ source: firstRimSource(rimDirs.map(directoryRimSource)) }),
    revocation: createOcspRevocationChecker({
      sources: ocspDir === undefined ? [] : [directoryOcspSource(ocspDir)],
    }),
    ...(remote === undefined ? {} : { remote, alwaysRemote: true }),
  });
}
