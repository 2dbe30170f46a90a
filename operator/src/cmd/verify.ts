import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { appraise, type TeeType } from "../attestation/appraise.ts";
import {
  compilePolicy,
  compilePolicySpec,
  type CompiledPolicy,
} from "../attestation/policy/compiled-policy.ts";
import { defaultGpuVerifier, defaultTeeBackends } from "../attestation/registry.ts";
import type { GpuCcMode } from "../attestation/gpu/appraise-gpu-system.ts";
import { gpuVerifierFor, type GpuCliSources } from "./verify-gpu-sources.ts";
import { createCollateralServices } from "../attestation/collateral/collateral-services.ts";
import { COLLATERAL_OPTIONS, collateralSettingsFromArgs } from "./collateral-flags.ts";
import type { CollateralSource } from "../attestation/types.ts";
import { type Command, EXIT_FAILURE, EXIT_OK, type ParsedArgs, UsageError } from "../cli/command.ts";

const USAGE = `Usage: trustgate verify <bundle.json> [--at <RFC3339 time>] [--policy <AttestationPolicy YAML>]
                        [--nonce <hex>] [--tee tdx|snp] [--gpu-mode on|ppcie] [--collateral-dir <dir>]
                        [--intel-pcs-url <url> | --pccs-url <url>] [--intel-root-ca-crl-url <url>]
                        [--intel-pcs-update standard|early] [--amd-kds-url <url>] [--collateral-ca-file <PEM>]
                        [--rim-dir <dir>]... [--ocsp-dir <dir>] [--nras-token <file>] [--nras-jwks <file|url>]

GPU evidence: RIMs come from the bundle, then --rim-dir (files named by RIM ID, e.g.
NV_GPU_DRIVER_GH100_550.90.07.xml), then the policy's gpu.rimServiceUrl. OCSP responses for the device and
RIM certificate chains come from --ocsp-dir (DER OCSPResponse files, any names), then the policy's gpu.ocspUrl;
with neither, revocation is "unchecked". --nras-token <file> (NRAS's detached EAT for this bundle's GPUs) with
--nras-jwks <file|https URL> appraises in remote mode: the token's signatures, issuer, times, nonce and
per-GPU digests are verified, and its results replace the RIM and OCSP appraisal.

Collateral the bundle lacks (Intel TCB info, QE identity, CRLs; AMD VCEKs, cert chains and CRLs) comes from
--collateral-dir, then from --intel-pcs-url (Intel PCS v4) or --pccs-url (a PCCS; its root CA CRL from
--intel-root-ca-crl-url, by default Intel's for Intel's PCS and <url>/sgx/certification/v4/rootcacrl for a
PCCS) and --amd-kds-url (AMD KDS or a mirror). Without those flags verify stays offline. Collateral the
operator fetches wins over older collateral in the bundle, so a bundle cannot hide a revocation.
--collateral-ca-file trusts these CA certificates (instead of the system's) for the collateral services.

--policy is checked as the API server checks it (schema and CEL rules) and its unset fields take the CRD's
defaults; without it the CRD's defaults apply. --tee names the TEE the CVM asked for: evidence of another TEE
is contraindicated (TeeMismatch), as in the controller. --gpu-mode names the CC mode of the host the CVM was
placed on: the GPUs' CC state must report it, and a bundle with GPUs must carry that state signed by the guest
key (gpuSystem, gpuSystemSignature), as in the controller; without it a bundle assembled elsewhere may lack it.

Verifies an evidence bundle offline and prints one JSON object (verdict, tee, gpus, policy, evidence).
Exit status: 0 affirming, 1 warning or contraindicated, 2 the input could not be read.`;

function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

function parseAt(value: string | undefined): Date {
  if (value === undefined) return new Date();
  const at = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(at.getTime())) {
    throw new UsageError(`trustgate verify: --at ${JSON.stringify(value)} is not an RFC 3339 time`);
  }
  return at;
}

async function readPolicy(path: string | undefined): Promise<CompiledPolicy> {
  if (path === undefined) return compilePolicySpec({}, "defaults");
  let document: unknown;
  try {
    document = parseYaml(await readFile(path, "utf8"));
  } catch (error) {
    throw new UsageError(`trustgate verify: --policy ${path}: ${(error as Error).message}`, { cause: error });
  }
  const result = compilePolicy(document);
  if (!result.ok) {
    const problems = result.errors.map((e) => `${e.path}: ${e.message}`).join("; ");
    throw new UsageError(`trustgate verify: --policy ${path} is not a valid AttestationPolicy: ${problems}`);
  }
  return result.policy;
}

/** The collateral sources the flags name (none: offline, the bundle's collateral only). */
async function collateralSources(args: ParsedArgs): Promise<CollateralSource | undefined> {
  const { settings } = await collateralSettingsFromArgs(args, "verify", "offline");
  const services = await createCollateralServices(settings);
  return services.describe.length === 0 ? undefined : services.source;
}

function parseGpuMode(value: string | undefined): GpuCcMode | undefined {
  if (value === undefined || value === "on" || value === "ppcie") return value;
  throw new UsageError(`trustgate verify: --gpu-mode ${JSON.stringify(value)} must be on or ppcie`);
}

function parseTee(value: string | undefined): TeeType | undefined {
  if (value === undefined || value === "tdx" || value === "snp") return value;
  throw new UsageError(`trustgate verify: --tee ${JSON.stringify(value)} must be tdx or snp`);
}

async function readBundle(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`trustgate verify: cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`trustgate verify: ${path} is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function gpuSources(args: ParsedArgs): GpuCliSources {
  const rimDirs = args.values["rim-dir"];
  const sources: GpuCliSources = {
    rimDirs: Array.isArray(rimDirs) ? rimDirs.filter((d): d is string => typeof d === "string") : [],
  };
  const ocspDir = stringFlag(args, "ocsp-dir");
  const nrasToken = stringFlag(args, "nras-token");
  const nrasJwks = stringFlag(args, "nras-jwks");
  if (ocspDir !== undefined) sources.ocspDir = ocspDir;
  if (nrasToken !== undefined) sources.nrasToken = nrasToken;
  if (nrasJwks !== undefined) sources.nrasJwks = nrasJwks;
  return sources;
}

export const verifyCommand: Command = {
  name: "verify",
  summary: "Verify an evidence bundle offline and print the verdict as JSON",
  usage: USAGE,
  options: {
    at: { type: "string" },
    policy: { type: "string" },
    nonce: { type: "string" },
    tee: { type: "string" },
    "gpu-mode": { type: "string" },
    ...COLLATERAL_OPTIONS,
    "rim-dir": { type: "string", multiple: true },
    "ocsp-dir": { type: "string" },
    "nras-token": { type: "string" },
    "nras-jwks": { type: "string" },
  },
  async run(args, io) {
    const [bundlePath, ...extra] = args.positionals;
    if (bundlePath === undefined || extra.length > 0)
      throw new UsageError("trustgate verify: give exactly one bundle file");
    const nonce = stringFlag(args, "nonce");
    if (nonce !== undefined && !/^[0-9a-f]{64}$/.test(nonce)) {
      throw new UsageError("trustgate verify: --nonce must be 64 lowercase hex characters (32 bytes)");
    }
    const tee = parseTee(stringFlag(args, "tee"));
    const gpuMode = parseGpuMode(stringFlag(args, "gpu-mode"));
    const now = parseAt(stringFlag(args, "at"));
    const policy = await readPolicy(stringFlag(args, "policy"));
    const bundle = await readBundle(bundlePath);
    const collateral = await collateralSources(args);
    const report = await appraise(bundle, policy, {
      now,
      backends: {
        tees: defaultTeeBackends(),
        gpus: await gpuVerifierFor(gpuSources(args), defaultGpuVerifier),
        ...(collateral === undefined ? {} : { collateral }),
      },
      ...(nonce === undefined ? {} : { nonce }),
      ...(tee === undefined ? {} : { expectedTee: tee }),
      ...(gpuMode === undefined ? {} : { expectedGpuMode: gpuMode }),
    });
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    return report.verdict === "affirming" ? EXIT_OK : EXIT_FAILURE;
  },
};
