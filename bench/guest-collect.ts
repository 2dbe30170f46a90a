// Guest GPU collection benchmark (issue 14, targets: collection <= 2 s excluding hardware latency, RSS <= 80 MB):
// node bench/guest-collect.ts [--runs 20]   (after `tsc -p tsconfig.build.json` it measures the built dist/)
// The guest's real NVML and NSCQ FFI code (GpusAndSwitches over NvmlGpus + NscqSwitches, koffi) collecting a PPCIe
// board of 8 H100s and 4 LS10 NVSwitches from the C test doubles of libnvidia-ml and libnvidia-nscq, which serve
// simulated-PKI evidence recorded for the nonce (so the time is trustgate's own: binding, struct copies, base64
// and PEM encoding; a real device adds its SPDM signing latency). The evidence is made in this process; the
// collection runs in a child process that loads only the built guest code as plain JavaScript
// (guest-collect-child.ts, transpiled), whose RSS (current and kernel peak, VmHWM) is the number that matters.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Recorded } from "./guest-collect-child.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "20" } },
});
const RUNS = Number(values.runs);
const TARGET_SECONDS = 2;
const TARGET_MB = 80;

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** bench/guest-collect-child.ts as plain JavaScript, under .cache/ so that it resolves koffi from node_modules. */
async function transpiledChild(): Promise<string> {
  if (!existsSync(join(ROOT, "dist/guest/src/providers/nscq/nscq-switches.js")))
    throw new Error("the benchmark measures the built guest: run `make build` first");
  const { transpileModule, ModuleKind, ScriptTarget } = (await import("typescript")).default;
  const source = await readFile(join(ROOT, "bench/guest-collect-child.ts"), "utf8");
  const { outputText } = transpileModule(source, {
    compilerOptions: { module: ModuleKind.ESNext, target: ScriptTarget.ES2023 },
  });
  const dir = join(ROOT, ".cache/bench");
  await mkdir(dir, { recursive: true });
  const path = join(dir, "guest-collect-child.mjs");
  await writeFile(path, outputText);
  return path;
}

async function main(): Promise<void> {
  const { compileFakeNvml } = await import("../guest/test/fake-nvml/fake-nvml.ts");
  const { compileFakeNscq } = await import("../guest/test/fake-nscq/fake-nscq.ts");
  const { generateSimPki } = await import("../operator/src/attestation/simulated/sim-pki.ts");
  const { SimulatedGpus } = await import("../operator/src/attestation/simulated/simulated-gpus.ts");
  const { SimulatedNvSwitches } = await import(
    "../operator/src/attestation/simulated/simulated-nvswitches.ts"
  );
  const { parsePemCertificates } = await import("../operator/src/crypto/pem.ts");
  const nvml = await compileFakeNvml();
  const nscq = await compileFakeNscq();
  if (nvml === undefined || nscq === undefined) throw new Error("the benchmark needs a C compiler (cc)");
  const dir = await mkdtemp(join(tmpdir(), "trustgate-bench-collect-"));
  try {
    const pki = await generateSimPki();
    const nonce = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
    const gpuNames = Array.from({ length: 8 }, (_, i) => `bench/gpu-${i}`);
    const switchNames = Array.from({ length: 4 }, (_, i) => `bench/nvswitch-${i}`);
    const gpus = await new SimulatedGpus(pki).collect(nonce, { gpus: gpuNames, nvswitches: switchNames });
    const switches = await new SimulatedNvSwitches(pki).collect(nonce, switchNames, { gpus: gpuNames });
    const hex = (b64: string): string => Buffer.from(b64, "base64").toString("hex");
    const der = (pem: string): string =>
      Buffer.concat(parsePemCertificates(pem, "chain").map((c) => Buffer.from(c))).toString("hex");
    const recorded: Recorded = {
      nvml: nvml.library,
      nscq: nscq.library,
      nonce: Buffer.from(nonce).toString("hex"),
      gpus: gpus.map((g) => ({
        report: hex(g.evidence),
        chain: der(g.certChain),
        vbios: g.vbiosVersion ?? "",
      })),
      switches: switches.map((s) => ({ report: hex(s.evidence), chain: der(s.certChain) })),
    };
    const file = join(dir, "recorded.json");
    await writeFile(file, JSON.stringify(recorded));
    const childJs = await transpiledChild();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ["--expose-gc", childJs, file, String(RUNS), ROOT], (error, out, err) => {
        process.stderr.write(err);
        if (error) reject(new Error(`the collecting child failed: ${error.message}`, { cause: error }));
        else resolve(out);
      });
    });
    const result = JSON.parse(stdout) as {
      devices: number;
      times: number[];
      loadedKib: number;
      heapUsedKib: number;
      externalKib: number;
      rssKib: number;
      rssAfterGcKib: number;
      peakRssKib: number;
    };
    const sorted = [...result.times].sort((a, b) => a - b);
    const at = (q: number): number =>
      +(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1);
    const mb = (k: number): number => +(k / 1024).toFixed(1);
    const first = +(result.times[0] ?? 0).toFixed(1);
    console.log(
      `guest collection of ${result.devices} devices (8 GPUs via NVML + 4 NVSwitches via NSCQ), ${RUNS} runs`,
    );
    console.log(`  first (cold: library load, koffi bindings): ${first} ms`);
    console.log(
      `  median ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms (target <= ${TARGET_SECONDS * 1000} ms)`,
    );
    console.log(
      `  RSS with the code loaded ${mb(result.loadedKib)} MB; after the runs: V8 heap used ${mb(result.heapUsedKib)} MB, external ${mb(result.externalKib)} MB`,
    );
    console.log(
      `  RSS ${mb(result.rssKib)} MB, after a full GC ${mb(result.rssAfterGcKib)} MB, peak ${mb(result.peakRssKib)} MB (target <= ${TARGET_MB} MB)`,
    );
    const ok =
      result.devices === 12 &&
      (sorted.at(-1) ?? Infinity) <= TARGET_SECONDS * 1000 &&
      mb(result.peakRssKib) <= TARGET_MB;
    console.log(ok ? "  within targets" : "  OUTSIDE TARGETS");
    if (!ok) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await nvml.remove();
    await nscq.remove();
  }
}

await main();
