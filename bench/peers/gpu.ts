/**
 * The GPU side of `make bench-peers`: trustgate's local GPU verifier against NVIDIA's nv-local-gpu-verifier
 * (driven by nv_local_gpu_verifier_peer.py in the venv build.sh makes) on the shared H100 items, with the RIMs of
 * the fixtures and revocation unchecked on both sides. NVSwitch items are left out: that verifier handles GPUs.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createLocalGpuVerifier,
  type LocalGpuVerifier,
} from "../../operator/src/attestation/gpu/verifier.ts";
import type { GpuResult } from "../../operator/src/attestation/types.ts";
import type { GpuEvidenceEntry } from "../../operator/src/attestation/gpu/checks.ts";
import {
  SHARED_GPU_ITEMS,
  nvidiaItemDir,
  sharedGpuEntry,
} from "../../operator/test/fixtures/nvidia/shared-items.ts";
import type { PeerItemResult, Verdict } from "./table.ts";

const SCRIPT = fileURLToPath(new URL("nv_local_gpu_verifier_peer.py", import.meta.url));
/** Inside the validity of the gonvtrust RIM signers (to 2025-06-22), as in bench/gpu-verify.ts. */
const RIM_TIME = "2025-06-20T00:00:00Z";

/** What each item's MANIFEST says a verifier that requires RIM matches concludes with the fixture's RIMs. */
const EXPECTED: Record<string, Verdict> = {
  "nvtrust-hopper-550": "reject", // no driver or VBIOS RIM in the fixtures
  "gonvtrust-hopper-545-fullrim": "accept", // all 33 measurements match its driver and VBIOS RIMs
  "sdk-hopper-590-12": "reject", // no RIMs
  "sdk-hopper-580-159": "reject", // no driver RIM; its 2023 VBIOS RIM mismatches index 9
};

export interface GpuCase {
  name: string;
  at: string;
  expected: Verdict;
  entry: GpuEvidenceEntry;
  nonce: string;
  rimFiles: string[];
}

export function gpuCases(): GpuCase[] {
  return SHARED_GPU_ITEMS.filter((item) => item.deviceType === "gpu").map((item) => {
    const rimDir = join(nvidiaItemDir(item.item), "rims");
    const rimFiles = existsSync(rimDir) ? readdirSync(rimDir).map((name) => join(rimDir, name)) : [];
    const rim = (kind: string): string | undefined => {
      const file = rimFiles.find((path) => path.includes(`NV_GPU_${kind}_`));
      return file === undefined ? undefined : readFileSync(file, "utf8");
    };
    const driver = rim("DRIVER");
    const vbios = rim("VBIOS");
    const entry: GpuEvidenceEntry = {
      ...sharedGpuEntry(item),
      ...(driver === undefined && vbios === undefined
        ? {}
        : {
            rims: { ...(driver === undefined ? {} : { driver }), ...(vbios === undefined ? {} : { vbios }) },
          }),
    };
    const expected = EXPECTED[item.item];
    if (expected === undefined)
      throw new Error(`no expected GPU verdict for ${item.item}: add it to EXPECTED`);
    const at = rimFiles.length > 0 ? RIM_TIME : (item.verdicts[0]?.at ?? RIM_TIME);
    return { name: `gpu/${item.item} at ${at}`, at, expected, entry, nonce: item.facts.nonce, rimFiles };
  });
}

/** Accepted: authentic and every active RIM measurement matched, with no error (revocation is unchecked). */
export function gpuVerdict(result: GpuResult | undefined): Verdict {
  return result?.authentic === true && result.measurements === "match" && result.errors.length === 0
    ? "accept"
    : "reject";
}

export async function trustgateGpuVerdicts(cases: readonly GpuCase[]): Promise<Map<string, Verdict>> {
  const verifier = createLocalGpuVerifier();
  const verdicts = new Map<string, Verdict>();
  for (const c of cases) {
    const [result] = await verifier.verify([c.entry], { now: new Date(c.at) });
    verdicts.set(c.name, gpuVerdict(result));
  }
  return verdicts;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/**
 * GPU verifications per CPU-second. Warm: one verifier (device chain and verified RIMs cached, SPDM signature and
 * every measurement checked each time). Cold: a new verifier per verification, so nothing is cached.
 */
export async function trustgateGpuRate(c: GpuCase, seconds: number, cold: boolean): Promise<number> {
  const now = new Date(c.at);
  const shared: LocalGpuVerifier = createLocalGpuVerifier();
  const verifier = (): LocalGpuVerifier => (cold ? createLocalGpuVerifier() : shared);
  await verifier().verify([c.entry], { now });
  const cpu = process.cpuUsage();
  const started = performance.now();
  let count = 0;
  while (performance.now() - started < seconds * 1000) {
    const [result] = await verifier().verify([c.entry], { now });
    if (gpuVerdict(result) !== "accept") throw new Error(`${c.name}: rejected during the benchmark`);
    count++;
  }
  return count / cpuSeconds(cpu);
}

export interface PythonPeerOutput {
  peer: string;
  version: string;
  items: (PeerItemResult & { firstMs: number; firstCpuMs: number })[];
  rates: { name: string; perSecond?: number; wallPerSecond?: number; count: number; error?: string }[];
}

/** Runs the Python peer in a fresh process: the verdict of each item, then the rate of the timed one. */
export function runPythonPeer(
  venv: string,
  work: string,
  cases: readonly GpuCase[],
  timed: string | undefined,
  seconds: number,
): PythonPeerOutput {
  const input = join(work, "gpu.json");
  const output = join(work, "gpu.out.json");
  const items = cases.map((c) => ({
    name: c.name,
    at: c.at,
    fields: {
      evidence: c.entry.evidence,
      certChain: c.entry.certChain,
      driverVersion: c.entry.driverVersion ?? "",
      vbiosVersion: c.entry.vbiosVersion ?? "",
      nonce: c.nonce,
      rimFiles: JSON.stringify(c.rimFiles),
    },
  }));
  writeFileSync(input, JSON.stringify({ items, timed: timed === undefined ? [] : [timed], seconds }));
  // In the scratch folder: the verifier writes its verifier.log to the working directory.
  const run = spawnSync(join(venv, "bin", "python"), [SCRIPT, input, output], {
    cwd: work,
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  if (run.status !== 0)
    throw new Error(`nv-local-gpu-verifier peer failed (${String(run.status)}): ${run.stderr}`);
  return JSON.parse(readFileSync(output, "utf8")) as PythonPeerOutput;
}
