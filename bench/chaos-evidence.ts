/**
 * Evidence mutation fuzz: N mutations (default 100,000) of the shared real evidence (TDX quotes, SEV-SNP reports,
 * H100/NVSwitch SPDM evidence and their chains and collateral, as bundles) through the code `trustgate verify` runs,
 * in-process; then a sample through the built CLI process. Counts crashes (anything thrown instead of a verdict or an
 * input error), mutations of signed bytes that were accepted (both must be 0) and acceptances outside signed bytes.
 *   node bench/chaos-evidence.ts [--mutations 100000] [--seed N] [--cli-sample 100] [--replay INDEX]
 * Exits 1 on a crash or an accepted signed-byte mutation.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { REPO_ROOT } from "../operator/test/support/samples.ts";
import { fuzzBases, judge, nthMutation, runFuzz, type FuzzBase } from "./lib/evidence-fuzz.ts";

const { values } = parseArgs({
  options: {
    mutations: { type: "string", default: "100000" },
    seed: { type: "string" },
    "cli-sample": { type: "string", default: "100" },
    replay: { type: "string" },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(values.seed) >>> 0;
const mutations = Number(values.mutations);
const cliSample = Number(values["cli-sample"]);
if (!Number.isInteger(mutations) || mutations < 1 || !Number.isInteger(cliSample) || cliSample < 0) {
  console.error("chaos-evidence: --mutations must be a positive integer and --cli-sample a non-negative one");
  process.exit(2);
}

const bases = await fuzzBases();
if (values.replay !== undefined) {
  const index = Number(values.replay);
  const { base, mutation } = nthMutation(bases, seed, index);
  console.log(JSON.stringify({ seed, index, base: base.name, target: mutation.target, kind: mutation.kind }));
  console.log(JSON.stringify(await judge(base, mutation), null, 2));
  process.exit(0);
}

interface CliRun {
  index: number;
  base: string;
  exitCode: number | null;
  signal: string | null;
  verdict?: string;
  inProcess: string;
  crash: boolean;
}

/** One mutated bundle through `./bin/trustgate verify` as its own process, as a user would run it. */
async function throughCli(dir: string, base: FuzzBase, index: number, text: string, inProcess: string) {
  const bundle = join(dir, `bundle-${String(index)}.json`);
  writeFileSync(bundle, text);
  const args = [
    "verify",
    bundle,
    "--at",
    base.at,
    "-o",
    "json",
    ...base.rimDirs.flatMap((d) => ["--rim-dir", d]),
  ];
  if (base.policy !== undefined) {
    const policy = join(dir, `policy-${String(index)}.yaml`);
    const document = {
      apiVersion: "trustgate.io/v1alpha1",
      kind: "AttestationPolicy",
      metadata: { name: "p" },
    };
    writeFileSync(policy, stringify({ ...document, spec: base.policy }));
    args.push("--policy", policy);
  }
  const run = await new Promise<{
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    execFile(join(REPO_ROOT, "bin/trustgate"), args, { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, signal: error?.signal ?? null, stdout, stderr });
    });
  });
  let verdict: string | undefined;
  try {
    verdict = (JSON.parse(run.stdout) as { verdict?: string }).verdict;
  } catch {
    verdict = undefined;
  }
  // Exit 0/1 with a verdict on stdout, or exit 2 with a one-line input error: anything else crashed.
  const clear =
    ((run.code === 0 || run.code === 1) && verdict !== undefined) ||
    (run.code === 2 && /^trustgate verify: /.test(run.stderr) && run.stderr.trim().split("\n").length === 1);
  const result: CliRun = {
    index,
    base: base.name,
    exitCode: run.code,
    signal: run.signal,
    inProcess,
    crash: !clear,
  };
  if (verdict !== undefined) result.verdict = verdict;
  return result;
}

console.error(
  `chaos-evidence: seed ${String(seed)}, ${String(mutations)} mutations of ${String(bases.length)} bundles`,
);
const stats = await runFuzz(bases, {
  seed,
  mutations,
  progress: (done) => {
    console.error(`  ${String(done)} mutations`);
  },
});

const cliRuns: CliRun[] = [];
if (cliSample > 0) {
  const dir = mkdtempSync(join(tmpdir(), "chaos-evidence-"));
  try {
    for (let i = 0; i < cliSample; i++) {
      const index = Math.floor((i * mutations) / cliSample);
      const { base, mutation } = nthMutation(bases, seed, index);
      const outcome = await judge(base, mutation);
      const inProcess =
        outcome.kind === "input-error"
          ? "input-error"
          : outcome.kind === "rejected"
            ? "contraindicated"
            : "accepted";
      cliRuns.push(await throughCli(dir, base, index, mutation.text, inProcess));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const cliAgree = cliRuns.filter((r) => {
  if (r.inProcess === "input-error") return r.exitCode === 2;
  if (r.inProcess === "contraindicated") return r.verdict === "contraindicated";
  return r.verdict === "affirming" || r.verdict === "warning";
}).length;

const perSecond = (stats.mutations * 1000) / stats.elapsedMs;
const rate = (n: number) => Number(((100 * n) / stats.mutations).toFixed(3));
const summary = {
  bench: "chaos-evidence",
  date: new Date().toISOString(),
  loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  seed,
  mutations: stats.mutations,
  bundles: bases.map((b) => b.name),
  crashes: stats.crashes,
  acceptedInsideSignedBytes: stats.acceptedSigned,
  acceptedOutsideSignedBytes: stats.acceptedUnsigned,
  rejected: stats.rejected,
  inputErrors: stats.inputErrors,
  percent: {
    rejected: rate(stats.rejected),
    inputErrors: rate(stats.inputErrors),
    acceptedOutsideSignedBytes: rate(stats.acceptedUnsigned),
  },
  acceptedOutsideSignedBytesByRegion: Object.fromEntries(
    Object.entries(stats.acceptedUnsignedByRegion).sort((a, b) => b[1] - a[1]),
  ),
  mutationsByTarget: stats.byTarget,
  mutationsPerSecond: Number(perSecond.toFixed(0)),
  slowestMutationMs: Number(stats.maxMutationMs.toFixed(1)),
  cli: {
    runs: cliRuns.length,
    crashes: cliRuns.filter((r) => r.crash).length,
    agreeWithInProcess: cliAgree,
    disagreements: cliRuns.filter((r) => !r.crash).length - cliAgree,
    crashed: cliRuns.filter((r) => r.crash).slice(0, 10),
  },
  findings: stats.findings,
};
console.log(JSON.stringify(summary, null, 2));
const failed = stats.crashes > 0 || stats.acceptedSigned > 0 || summary.cli.crashes > 0;
console.log(
  [
    `chaos-evidence (seed ${String(seed)}): ${String(stats.mutations)} mutations of ${String(bases.length)} real bundles in ${(stats.elapsedMs / 1000).toFixed(1)} s (${perSecond.toFixed(0)}/s), load ${summary.loadAverage.join(" ")}`,
    `  crashes ${String(stats.crashes)}, accepted inside signed bytes ${String(stats.acceptedSigned)}`,
    `  refused ${String(stats.rejected)} (${String(summary.percent.rejected)}%), input errors ${String(stats.inputErrors)} (${String(summary.percent.inputErrors)}%), accepted outside signed bytes ${String(stats.acceptedUnsigned)} (${String(summary.percent.acceptedOutsideSignedBytes)}%)`,
    `  through the CLI process: ${String(cliRuns.length)} runs, ${String(summary.cli.crashes)} crashes, ${String(cliAgree)} agree with in-process`,
    failed ? "  FAILED" : "  ok",
  ].join("\n"),
);
process.exit(failed ? 1 : 0);
