/**
 * The evidence fuzz: mutations of the shared real evidence (TDX quotes, SEV-SNP reports, H100 and NVSwitch SPDM
 * evidence, as `hack/evidence-bundles.ts` writes them) through what `trustgate verify` runs: the bundle parse of the
 * CLI (`parseBundleText`), the appraisal (`appraiseForVerify`) and the rendering of the result. A crash is anything
 * thrown instead of a verdict or an input error; a mutation accepted (verdict not contraindicated) must not have
 * changed signed bytes (`signedView`).
 */
import { compilePolicySpec } from "../../operator/src/attestation/policy/compiled-policy.ts";
import { defaultGpuVerifier, defaultTeeBackends } from "../../operator/src/attestation/registry.ts";
import type { Appraisal } from "../../operator/src/attestation/appraise.ts";
import type { GpuEvidenceVerifier } from "../../operator/src/attestation/types.ts";
import { InputError } from "../../operator/src/cli/command.ts";
import { gpuVerifierFor } from "../../operator/src/cmd/verify-gpu-sources.ts";
import { renderResult } from "../../operator/src/cmd/verify-output/render.ts";
import { verificationResult } from "../../operator/src/cmd/verify-output/verification-result.ts";
import {
  appraiseForVerify,
  parseBundleText,
  type VerifyBundleOptions,
} from "../../operator/src/cmd/verify.ts";
import {
  sharedBundleCases,
  sharedGpuBundleCases,
  type SharedBundleCase,
} from "../../operator/test/support/shared-evidence.ts";
import { parseEventLog } from "../../operator/src/attestation/tdx/event-log/parse.ts";
import { toHex } from "../../operator/src/attestation/tdx/hex.ts";
import {
  Draw,
  getAt,
  mutateBundle,
  mutationRandom,
  setAt,
  type Mutation,
  type Path,
} from "./evidence-mutations.ts";
import {
  changedOnlyOutsideSigned,
  derBytes,
  fieldViews,
  gpuView,
  pemBlocks,
  UNSIGNED_KEYS,
} from "./evidence-signed-view.ts";
import { MAX_TRAILING_BYTES } from "../../operator/src/attestation/gpu/spdm-evidence.ts";

export interface FuzzBase {
  name: string;
  bundle: unknown;
  /** What `trustgate verify` is given besides the bundle: --at, --policy, --rim-dir. */
  at: string;
  policy?: Record<string, unknown>;
  rimDirs: string[];
  options: VerifyBundleOptions;
  baseline: Appraisal["verdict"];
  views: Map<string, string>;
  /** Signed fields (and certificates) without which the bundle is refused: the verdict relies on them. */
  required: Set<string>;
  /** Per GPU evidence text: the indexes of its chain's certificates the bundle is accepted without. */
  gpuOptional: Map<string, Set<number>>;
  gpuViews: Set<string>;
  /** Every base's signed content per key: authentic objects a splice from another real bundle may bring in. */
  authentic: Map<string, Set<string>>;
}

type Entry = Record<string, unknown>;
const CERTIFICATE = "any certificate";
const gpuEntries = (document: unknown): Entry[] => {
  const gpus = getAt(document, ["gpus"]);
  return Array.isArray(gpus) ? (gpus as Entry[]) : [];
};

function withoutPemBlock(document: unknown, path: Path, index: number): unknown {
  const copy = structuredClone(document);
  const text = getAt(copy, path) as string;
  setAt(
    copy,
    path,
    pemBlocks(text)
      .filter((_, i) => i !== index)
      .join("\n"),
  );
  return copy;
}

/** Which signed fields (certificates of PEM fields apart) the bundle is still accepted without. */
async function reliance(bundle: unknown, options: VerifyBundleOptions) {
  const accepted = async (document: unknown) =>
    (await appraiseForVerify(document, options)).verdict !== "contraindicated";
  const views = fieldViews(bundle);
  const required = new Set<string>();
  for (const key of views.keys()) {
    if (UNSIGNED_KEYS.has(key)) continue;
    const [name = "", cert] = key.split("#");
    const path = name.split(".");
    let without: unknown;
    if (cert === undefined) {
      without = structuredClone(bundle);
      setAt(without, path, undefined);
    } else without = withoutPemBlock(bundle, path, Number(cert));
    if (!(await accepted(without))) required.add(key);
  }
  const gpuOptional = new Map<string, Set<number>>();
  const gpus = gpuEntries(bundle);
  for (const [i, entry] of gpus.entries()) {
    const optional = new Set<number>();
    const chain = typeof entry.certChain === "string" ? pemBlocks(entry.certChain) : [];
    for (const k of chain.keys())
      if (await accepted(withoutPemBlock(bundle, ["gpus", i, "certChain"], k))) optional.add(k);
    gpuOptional.set(String(entry.evidence), optional);
  }
  const gpuViews = new Set(gpus.map((e) => gpuView(e, gpuOptional.get(String(e.evidence)) ?? new Set())));
  return { views, required, gpuOptional, gpuViews };
}

/** The GCP event log's kernel: the file GRUB read after its `linux` command (as appraise-events.test.ts names it). */
const GCP_KERNEL_EVENT = 39;

/**
 * The bundles with a CCEL, under a policy that pins their kernel digest: then the event log is replayed against the
 * signed RTMRs and relied on, so its mutations count as signed (without an event rule nothing depends on the log).
 */
function eventLogRuleCases(cases: SharedBundleCase[]): SharedBundleCase[] {
  return cases.flatMap((c) => {
    if (c.bundle.tee.eventLog === undefined || !c.name.startsWith("tdx/google-gcp")) return [];
    const events = parseEventLog(Buffer.from(c.bundle.tee.eventLog, "base64")).events;
    const kernel = events[GCP_KERNEL_EVENT]?.sha384;
    if (kernel === undefined) return [];
    const policy = { ...c.policy, tdx: { events: { kernel: [toHex(kernel)] } } };
    return [{ ...c, name: `${c.name}, kernel digest pinned (event-log rule)`, policy }];
  });
}

/**
 * Every shared bundle `trustgate verify` does not refuse as it is (affirming or warning under its case's policy):
 * a mutation can only be "accepted" against a base that is.
 */
export async function fuzzBases(): Promise<FuzzBase[]> {
  const tees = defaultTeeBackends();
  const gpuVerifiers = new Map<string, GpuEvidenceVerifier>();
  const gpusFor = async (rimDirs: string[]) => {
    const key = rimDirs.join("\n");
    let verifier = gpuVerifiers.get(key);
    if (verifier === undefined) {
      verifier = await gpuVerifierFor({ rimDirs }, defaultGpuVerifier);
      gpuVerifiers.set(key, verifier);
    }
    return verifier;
  };
  const teeCases = sharedBundleCases();
  const cases = [
    ...teeCases.map((c) => ({ ...c, rimDirs: [] as string[] })),
    ...eventLogRuleCases(teeCases).map((c) => ({ ...c, rimDirs: [] as string[] })),
    ...sharedGpuBundleCases().map((c) => ({ ...c, rimDirs: c.rimDirs ?? [] })),
  ];
  const bases: FuzzBase[] = [];
  for (const c of cases) {
    const options: VerifyBundleOptions = {
      policy: compilePolicySpec(c.policy ?? {}, "fuzz"),
      now: new Date(c.at),
      tees,
      gpus: await gpusFor(c.rimDirs),
    };
    const report = await appraiseForVerify(c.bundle, options);
    if (report.verdict === "contraindicated") continue;
    bases.push({
      authentic: new Map(),
      name: c.name,
      bundle: c.bundle,
      at: c.at,
      ...(c.policy === undefined ? {} : { policy: c.policy }),
      rimDirs: c.rimDirs,
      options,
      baseline: report.verdict,
      ...(await reliance(c.bundle, options)),
    });
  }
  const authentic = new Map<string, Set<string>>();
  // Certificates count wherever a real bundle carries them: an issuer chain swapped for another is still authentic.
  for (const base of bases)
    for (const [key, view] of base.views)
      for (const bucket of key.includes("#") ? [key, CERTIFICATE] : [key])
        authentic.set(bucket, (authentic.get(bucket) ?? new Set()).add(view));
  return bases.map((base) => ({ ...base, authentic }));
}

export type Outcome =
  | { kind: "input-error" }
  | { kind: "rejected" }
  | { kind: "accepted-unsigned"; region: string }
  | { kind: "accepted-signed"; field: string }
  | { kind: "crash"; error: string };

/** What verify does with one mutated bundle text, and whether an acceptance touched signed bytes. */
export async function judge(base: FuzzBase, mutation: Mutation): Promise<Outcome> {
  let document: unknown;
  try {
    document = parseBundleText(mutation.text, "bundle");
  } catch (error) {
    if (error instanceof InputError) return { kind: "input-error" };
    return { kind: "crash", error: `parse: ${String(error)}` };
  }
  let report: Appraisal;
  try {
    report = await appraiseForVerify(document, base.options);
    renderResult(verificationResult(report, base.options.now), "json");
  } catch (error) {
    return { kind: "crash", error: (error as Error).stack ?? String(error) };
  }
  if (!["affirming", "warning", "contraindicated"].includes(report.verdict))
    return { kind: "crash", error: `no verdict: ${JSON.stringify(report.verdict)}` };
  if (report.verdict === "contraindicated") return { kind: "rejected" };
  return classifyAcceptance(base, document, mutation);
}

/**
 * An accepted mutation either changed signed bytes the verdict relies on (a failure) or it did not: then why not,
 * coarsely, for the report.
 */
export function classifyAcceptance(base: FuzzBase, document: unknown, mutation: Mutation): Outcome {
  const views = fieldViews(document);
  let outsideSigned: string | undefined;
  for (const key of base.required) {
    const [field = "", cert] = key.split("#");
    // A chain left out as a whole (when the bundle is accepted without it) is checked by its own key.
    if (cert !== undefined && !views.has(field) && !base.required.has(field)) continue;
    const view = views.get(key);
    if (view === base.views.get(key)) continue;
    // Another real bundle's object (a CRL or chain of another issue date), authentic as it is: not a forgery.
    const bucket = cert === undefined ? key : CERTIFICATE;
    if (view !== undefined && base.authentic.get(bucket)?.has(view) === true) continue;
    const [original, mutated] = [derBytes(base.bundle, key), derBytes(document, key)];
    if (original !== undefined && mutated !== undefined && changedOnlyOutsideSigned(original, mutated)) {
      outsideSigned ??= `DER outside the signed part (header, outer algorithm) of ${field}`;
      continue;
    }
    return { kind: "accepted-signed", field: key };
  }
  const gpus = gpuEntries(document);
  const none = new Set<number>();
  const baseEntries = gpuEntries(base.bundle);
  for (const entry of gpus) {
    const view = gpuView(entry, base.gpuOptional.get(String(entry.evidence)) ?? none);
    if (base.gpuViews.has(view)) continue;
    // The SPDM parser tolerates one byte after the signature (a real sample has one): not signed.
    const evidence = Buffer.from(String(entry.evidence), "base64");
    const trailing = baseEntries.some((b) => {
      const signed = Buffer.from(String(b.evidence), "base64");
      const rest = { ...entry, evidence: b.evidence };
      return (
        evidence.length > signed.length &&
        evidence.length - signed.length <= MAX_TRAILING_BYTES &&
        evidence.subarray(0, signed.length).equals(signed) &&
        base.gpuViews.has(gpuView(rest, base.gpuOptional.get(String(b.evidence)) ?? none))
      );
    });
    if (trailing) {
      outsideSigned ??= "a byte after a GPU's SPDM signature (tolerated, unsigned)";
      continue;
    }
    return { kind: "accepted-signed", field: "gpus" };
  }
  if (outsideSigned !== undefined) return { kind: "accepted-unsigned", region: outsideSigned };
  const keys = new Set([...views.keys(), ...base.views.keys()]);
  const changed = [...keys].filter((k) => views.get(k) !== base.views.get(k));
  const first = changed[0];
  let region: string;
  if (first !== undefined) {
    const view = views.get(first);
    const bucket = first.includes("#") ? CERTIFICATE : first;
    if (view !== undefined && base.views.has(first) && base.authentic.get(bucket)?.has(view) === true)
      region = `an authentic ${first.split("#")[0] ?? first} from another real bundle or field`;
    else if (!base.views.has(first)) region = `a field this bundle lacks (${first}), not used`;
    else if (UNSIGNED_KEYS.has(first)) region = `unsigned field ${first}`;
    else region = `optional field ${first} (accepted without it)`;
  } else if (gpus.length < gpuEntries(base.bundle).length) region = "a GPU entry removed";
  else {
    const baseGpus = new Set(gpuEntries(base.bundle).map((e) => gpuView(e, none)));
    if (gpus.some((e) => !baseGpus.has(gpuView(e, none)))) region = "a GPU chain certificate not relied on";
    else if (
      JSON.stringify(gpus.map((e) => [e.arch, e.driverVersion, e.vbiosVersion])) !==
      JSON.stringify(gpuEntries(base.bundle).map((e) => [e.arch, e.driverVersion, e.vbiosVersion]))
    )
      region = "guest-reported GPU arch or version";
    else if (mutation.target === "tee.eventLog")
      region = "CCEL padding, or the type or data of an event no claim reads (its digest is replayed)";
    else region = `encoding, padding or layout only (${mutation.target})`;
  }
  return { kind: "accepted-unsigned", region };
}

export interface FuzzFinding {
  index: number;
  base: string;
  target: string;
  kind: string;
  outcome: Outcome;
}

export interface FuzzStats {
  seed: number;
  mutations: number;
  bases: number;
  inputErrors: number;
  rejected: number;
  acceptedUnsigned: number;
  acceptedSigned: number;
  crashes: number;
  /** Accepted outside signed bytes, by field and mutation kind. */
  acceptedUnsignedByRegion: Record<string, number>;
  /** Mutations per target (field path, "bundle" structure, "json" text). */
  byTarget: Record<string, number>;
  findings: FuzzFinding[];
  elapsedMs: number;
  maxMutationMs: number;
}

/** The base and mutation of index `index` in a run seeded with `seed` (replayable one at a time). */
export function nthMutation(
  bases: FuzzBase[],
  seed: number,
  index: number,
): { base: FuzzBase; mutation: Mutation } {
  const draw = new Draw(mutationRandom(seed, index));
  const base = draw.pick(bases);
  const donor = draw.pick(bases);
  return { base, mutation: mutateBundle(base.bundle, donor.bundle, draw) };
}

export async function runFuzz(
  bases: FuzzBase[],
  options: { seed: number; mutations: number; from?: number; progress?: (done: number) => void },
): Promise<FuzzStats> {
  const stats: FuzzStats = {
    seed: options.seed,
    mutations: 0,
    bases: bases.length,
    inputErrors: 0,
    rejected: 0,
    acceptedUnsigned: 0,
    acceptedSigned: 0,
    crashes: 0,
    acceptedUnsignedByRegion: {},
    byTarget: {},
    findings: [],
    elapsedMs: 0,
    maxMutationMs: 0,
  };
  const start = performance.now();
  const from = options.from ?? 0;
  for (let index = from; index < from + options.mutations; index++) {
    const { base, mutation } = nthMutation(bases, options.seed, index);
    const began = performance.now();
    const outcome = await judge(base, mutation);
    stats.maxMutationMs = Math.max(stats.maxMutationMs, performance.now() - began);
    stats.mutations++;
    stats.byTarget[mutation.target] = (stats.byTarget[mutation.target] ?? 0) + 1;
    if (outcome.kind === "input-error") stats.inputErrors++;
    else if (outcome.kind === "rejected") stats.rejected++;
    else if (outcome.kind === "accepted-unsigned") {
      stats.acceptedUnsigned++;
      stats.acceptedUnsignedByRegion[outcome.region] =
        (stats.acceptedUnsignedByRegion[outcome.region] ?? 0) + 1;
    } else {
      if (outcome.kind === "crash") stats.crashes++;
      else stats.acceptedSigned++;
      if (stats.findings.length < 500)
        stats.findings.push({
          index,
          base: base.name,
          target: mutation.target,
          kind: mutation.kind,
          outcome,
        });
    }
    if (options.progress !== undefined && (index - from + 1) % 5000 === 0) options.progress(index - from + 1);
  }
  stats.elapsedMs = performance.now() - start;
  return stats;
}
