/**
 * `make bench-peers`: trustgate's TDX and SEV-SNP verifiers against go-tdx-guest and go-sev-guest (and, when the
 * venv is there, NVIDIA's nv-local-gpu-verifier, see gpu.ts) on the repository's shared evidence items, offline at
 * each item's manifest time. Prints one side-by-side table: rates per CPU-second of one process, medians over
 * interleaved rounds, the ratio trustgate/peer, and verdict agreement per shared item.
 *
 *   node bench/peers/run.ts --peers <dir from build.sh go> [--venv <dir from build.sh python>] [--rounds 5] [--seconds 1]
 */
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createSnpVerifier } from "../../operator/src/attestation/snp/verifier.ts";
import { createTdxVerifier } from "../../operator/src/attestation/tdx/verifier.ts";
import type { TeeEvidence, TeeVerifier } from "../../operator/src/attestation/types.ts";
import {
  EVIDENCE_FIXTURES,
  sharedBundleCases,
  type SharedBundleCase,
} from "../../operator/test/support/shared-evidence.ts";
import { gpuCases, runPythonPeer, trustgateGpuRate, trustgateGpuVerdicts } from "./gpu.ts";
import {
  compareVerdicts,
  expectedVerdict,
  median,
  renderAgreement,
  renderRates,
  type PeerItemResult,
  type RateRow,
  teeVerdict,
  type Verdict,
} from "./table.ts";

const { values } = parseArgs({
  options: {
    peers: { type: "string" },
    venv: { type: "string" },
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "1" },
  },
});
if (values.peers === undefined) {
  console.error("usage: node bench/peers/run.ts --peers <dir printed by bench/peers/build.sh go>");
  process.exit(2);
}
const peersDir = values.peers;
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);

interface PeerOutput {
  peer: string;
  version: string;
  items: PeerItemResult[];
  rates: { name: string; perSecond: number; count: number; error?: string }[];
}

interface TeeSide {
  kind: "tdx" | "snp";
  unit: string;
  binary: string;
  verifier: TeeVerifier;
  cases: SharedBundleCase[];
  /** The item both sides time: the first one the manifest and both verifiers accept (set after the verdict pass). */
  timed?: SharedBundleCase;
}

const TDX_COMMON = join(EVIDENCE_FIXTURES, "tdx", "_common");

/**
 * The issuer chains Intel PCS sends in response headers, for items that did not store them: the TCB-signing chain
 * valid at the item's time and the PCK Platform CA chain, both from tdx/_common (trustgate pins the same anchors).
 */
function pcsIssuerChains(at: string): Record<string, string> {
  const signing = ["tcb_signing_chain_2025-2032.pem", "tcb_signing_chain_2018-2025.pem"]
    .map((name) => readFileSync(join(TDX_COMMON, name), "utf8"))
    .find((pem) => {
      const leaf = new X509Certificate(pem);
      return new Date(leaf.validFrom) <= new Date(at) && new Date(at) < new Date(leaf.validTo);
    });
  const chains: Record<string, string> = {
    pckCrlIssuerChain: readFileSync(join(TDX_COMMON, "pck_platform_ca_chain.pem"), "utf8"),
  };
  if (signing !== undefined)
    Object.assign(chains, { tcbInfoIssuerChain: signing, qeIdentityIssuerChain: signing });
  return chains;
}

const SNP_COMMON = join(EVIDENCE_FIXTURES, "snp", "_common");
/** AMD KDS cert_chain bundles per product line (ASK+ARK for VCEKs, ASVK+ARK for VLEKs), for go-sev-guest's TrustedRoots. */
const SNP_TRUSTED_ROOTS = JSON.stringify(
  Object.fromEntries(
    ["Milan", "Genoa", "Turin"].map((line) => [
      line,
      ["vcek", "vlek"].map((key) =>
        readFileSync(join(SNP_COMMON, `ask_ark_${line.toLowerCase()}_${key}.pem`), "utf8").trimEnd(),
      ),
    ]),
  ),
);

function peerFields(c: SharedBundleCase): Record<string, string> {
  const tee = c.bundle.tee;
  const fields: Record<string, string> =
    tee.type === "tdx" ? pcsIssuerChains(c.at) : { trustedRoots: SNP_TRUSTED_ROOTS };
  for (const [key, value] of Object.entries({ ...tee, ...(tee.collateral ?? {}) })) {
    if (typeof value === "string") fields[key] = value;
  }
  return fields;
}

const work = mkdtempSync(join(tmpdir(), "trustgate-peers-"));

function runPeer(side: TeeSide, timed: boolean): PeerOutput {
  const input = join(work, `${side.kind}.json`);
  const items = side.cases.map((c) => ({ name: c.name, at: c.at, fields: peerFields(c) }));
  const names = timed && side.timed !== undefined ? [side.timed.name] : [];
  writeFileSync(input, JSON.stringify({ items, timed: names, seconds }));
  const output = join(work, `${side.kind}.out.json`);
  const run = spawnSync(join(peersDir, side.binary), [input, output], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) throw new Error(`${side.binary} failed (${String(run.status)}): ${run.stderr}`);
  return JSON.parse(readFileSync(output, "utf8")) as PeerOutput;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** Verifications per CPU-second of freshly parsed copies of one item, as the operator parses status.evidence. */
async function trustgateRate(side: TeeSide, timed: SharedBundleCase): Promise<number> {
  // Without the CCEL event log: the peers do not replay it, so neither does the timed trustgate verification.
  const tee = { ...timed.bundle.tee };
  delete tee.eventLog;
  const json = JSON.stringify(tee);
  const copies = Array.from({ length: 64 }, () => JSON.parse(json) as TeeEvidence);
  const now = new Date(timed.at);
  const window = seconds * 1000;
  for (let warm = performance.now(), i = 0; performance.now() - warm < window / 10; i++) {
    await side.verifier.verify(copies[i % 64] as TeeEvidence, { now });
  }
  const cpu = process.cpuUsage();
  const started = performance.now();
  let count = 0;
  while (performance.now() - started < window) {
    const result = await side.verifier.verify(copies[count % 64] as TeeEvidence, { now });
    if (teeVerdict(result) !== "accept") throw new Error(`${timed.name}: rejected during the benchmark`);
    count++;
  }
  return count / cpuSeconds(cpu);
}

const cases = sharedBundleCases();
const side = (kind: "tdx" | "snp", binary: string, verifier: TeeVerifier, unit: string): TeeSide => {
  const own = cases.filter((c) => c.bundle.tee.type === kind);
  return { kind, unit, binary, verifier, cases: own };
};
const sides = [
  side("tdx", "tdxpeer", createTdxVerifier(), "quotes/s"),
  side("snp", "snppeer", createSnpVerifier(), "reports/s"),
];

const rates = new Map(sides.map((s) => [s.kind, { ours: [] as number[], theirs: [] as number[], peer: "" }]));
const agreements: string[] = [];
for (const s of sides) {
  const expected = new Map(s.cases.map((c) => [c.name, expectedVerdict(c)]));
  const ours = new Map<string, Verdict>();
  for (const c of s.cases) {
    ours.set(c.name, teeVerdict(await s.verifier.verify(c.bundle.tee, { now: new Date(c.at) })));
  }
  const peer = runPeer(s, false);
  const label = `${peer.peer} ${peer.version}`;
  const entry = rates.get(s.kind);
  if (entry !== undefined) entry.peer = label;
  const compared = compareVerdicts(expected, ours, peer.items);
  agreements.push(...renderAgreement(label, compared), "");
  const both = compared.find((a) => a.expected === "accept" && a.right === "both");
  s.timed = s.cases.find((c) => c.name === both?.name);
}

// Interleaved: each round times trustgate and then the peer on the same item, for each TEE.
for (let round = 0; round < rounds; round++) {
  for (const s of sides) {
    if (s.timed === undefined) continue;
    const entry = rates.get(s.kind);
    entry?.ours.push(await trustgateRate(s, s.timed));
    const measured = runPeer(s, true).rates[0];
    if (measured?.error !== undefined) throw new Error(`${s.binary} on ${s.timed.name}: ${measured.error}`);
    entry?.theirs.push(measured?.perSecond ?? Number.NaN);
  }
}

// GPUs: verdicts, then interleaved rounds of trustgate warm, trustgate cold and a fresh Python peer process.
const gpuRows: RateRow[] = [];
const gpuNotes: string[] = [];
if (values.venv !== undefined) {
  const cases = gpuCases();
  const expected = new Map(cases.map((c) => [c.name, c.expected]));
  const peer = runPythonPeer(values.venv, work, cases, undefined, seconds);
  const label = `${peer.peer} ${peer.version}`;
  const compared = compareVerdicts(expected, await trustgateGpuVerdicts(cases), peer.items);
  agreements.push(...renderAgreement(label, compared), "");
  const timed = cases.find(
    (c) => compared.find((a) => a.name === c.name)?.right === "both" && c.expected === "accept",
  );
  if (timed !== undefined) {
    const warm = { ours: [] as number[], theirs: [] as number[] };
    const cold = { ours: [] as number[], theirs: [] as number[] };
    const wall: number[] = [];
    const firstCpuMs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      warm.ours.push(await trustgateGpuRate(timed, seconds, false));
      cold.ours.push(await trustgateGpuRate(timed, seconds, true));
      const run = runPythonPeer(values.venv, work, [timed], timed.name, seconds);
      const first = run.items[0];
      const rate = run.rates[0];
      if (rate?.error !== undefined || first?.verdict !== "accept") {
        throw new Error(`${label} on ${timed.name}: ${rate?.error ?? first?.error ?? "no result"}`);
      }
      // The Python verifier caches nothing between calls: its loop rate is its cold rate as well as its warm one.
      warm.theirs.push(rate?.perSecond ?? Number.NaN);
      cold.theirs.push(rate?.perSecond ?? Number.NaN);
      firstCpuMs.push(first.firstCpuMs);
      wall.push(rate?.wallPerSecond ?? Number.NaN);
    }
    gpuRows.push(
      {
        what: `GPU warm (${timed.name})`,
        unit: "GPUs/s",
        peer: label,
        trustgate: warm.ours,
        peerRates: warm.theirs,
      },
      {
        what: `GPU cold, nothing cached (${timed.name})`,
        unit: "GPUs/s",
        peer: label,
        trustgate: cold.ours,
        peerRates: cold.theirs,
      },
    );
    gpuNotes.push(
      `${label} caches nothing between verifications, so its loop rate stands in both GPU rows; by wall clock ` +
        `${Math.round(median(wall))} GPUs/s (the table counts CPU-seconds of its process); its first verification ` +
        `in a fresh process takes ${median(firstCpuMs).toFixed(1)} ms of CPU (one-time schema loading included).`,
    );
  }
} else {
  gpuNotes.push("GPU peer skipped: no --venv (make bench-peers builds it with bench/peers/build.sh python).");
}

const rows: RateRow[] = sides.map((s) => ({
  what: `${s.kind.toUpperCase()} (${s.timed?.name ?? "no item both accept"})`,
  unit: s.unit,
  peer: rates.get(s.kind)?.peer ?? "",
  trustgate: rates.get(s.kind)?.ours ?? [],
  peerRates: rates.get(s.kind)?.theirs ?? [],
}));
const load = loadavg()
  .map((n) => n.toFixed(2))
  .join(" ");
console.log(
  `Node ${process.version}; ${rounds} interleaved rounds of ${seconds} s windows; per CPU-second of one process (medians); load average ${load}`,
);
console.log(renderRates([...rows, ...gpuRows]).join("\n"));
for (const note of gpuNotes) console.log(note);
console.log("");
console.log(agreements.join("\n"));
rmSync(work, { recursive: true });
