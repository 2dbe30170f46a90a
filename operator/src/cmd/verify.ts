import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { appraise, type Appraisal, type AttestationBackends, type TeeType } from "../attestation/appraise.ts";
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
import type { CollateralSource, GpuEvidenceVerifier } from "../attestation/types.ts";
import { type Command, InputError, type ParsedArgs, UsageError } from "../cli/command.ts";
import { exitCodeFor, FAIL_ON_VALUES, parseFailOn } from "./verify-output/exit-code.ts";
import { OUTPUT_FORMATS, parseOutputFormat, renderResult } from "./verify-output/render.ts";
import { verificationResult } from "./verify-output/verification-result.ts";
import { VERIFY_USAGE } from "./verify-usage.ts";

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
    throw new InputError(`trustgate verify: --policy ${path}: ${(error as Error).message}`, { cause: error });
  }
  const result = compilePolicy(document);
  if (!result.ok) {
    const problems = result.errors.map((e) => `${e.path}: ${e.message}`).join("; ");
    throw new InputError(`trustgate verify: --policy ${path} is not a valid AttestationPolicy: ${problems}`);
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

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The bundle as JSON. Input that is not a bundle at all (not an object, no `tee` object: another document given by
 * mistake) is an input error, exit 2; a bundle whose evidence is malformed is appraised (contraindicated).
 */
export function parseBundleText(text: string, name: string): unknown {
  let document: unknown;
  try {
    document = JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError(`trustgate verify: ${name} is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const tee = (document as { tee?: unknown } | null)?.tee;
  if (typeof document !== "object" || Array.isArray(document) || typeof tee !== "object" || tee === null)
    throw new InputError(
      `trustgate verify: ${name} is not an evidence bundle (no "tee" object; see docs/evidence-bundle.md)`,
    );
  return document;
}

async function readBundle(path: string): Promise<unknown> {
  const name = path === "-" ? "stdin" : path;
  let text: string;
  try {
    text = path === "-" ? await readStdin() : await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(`trustgate verify: cannot read ${name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseBundleText(text, name);
}

export interface VerifyBundleOptions {
  policy: CompiledPolicy;
  now: Date;
  tees: AttestationBackends["tees"];
  gpus: GpuEvidenceVerifier;
  collateral?: CollateralSource;
  nonce?: string;
  tee?: TeeType;
  gpuMode?: GpuCcMode;
}

/** The appraisal `trustgate verify` prints, for a parsed bundle document (also called in-process by the fuzz bench). */
export function appraiseForVerify(bundle: unknown, options: VerifyBundleOptions): Promise<Appraisal> {
  return appraise(bundle, options.policy, {
    now: options.now,
    backends: {
      tees: options.tees,
      gpus: options.gpus,
      ...(options.collateral === undefined ? {} : { collateral: options.collateral }),
    },
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    ...(options.tee === undefined ? {} : { expectedTee: options.tee }),
    ...(options.gpuMode === undefined ? {} : { expectedGpuMode: options.gpuMode }),
  });
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
  summary: "Verify an evidence bundle offline and print the verdict (JSON, YAML or text)",
  usage: VERIFY_USAGE,
  options: {
    output: { type: "string", short: "o" },
    "fail-on": { type: "string" },
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
  choices: {
    output: OUTPUT_FORMATS,
    "fail-on": FAIL_ON_VALUES,
    tee: ["tdx", "snp"],
    "intel-pcs-update": ["standard", "early"],
  },
  async run(args, io) {
    const [bundlePath, ...extra] = args.positionals;
    if (bundlePath === undefined || extra.length > 0)
      throw new UsageError("trustgate verify: give exactly one bundle file (or - for stdin)");
    const format = parseOutputFormat(stringFlag(args, "output"));
    const failOn = parseFailOn(stringFlag(args, "fail-on"));
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
    const report = await appraiseForVerify(bundle, {
      policy,
      now,
      tees: defaultTeeBackends(),
      gpus: await gpuVerifierFor(gpuSources(args), defaultGpuVerifier),
      ...(collateral === undefined ? {} : { collateral }),
      ...(nonce === undefined ? {} : { nonce }),
      ...(tee === undefined ? {} : { tee }),
      ...(gpuMode === undefined ? {} : { gpuMode }),
    });
    io.stdout(renderResult(verificationResult(report, now), format));
    return exitCodeFor(report.verdict, failOn);
  },
};
