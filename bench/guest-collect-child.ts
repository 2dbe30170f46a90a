// The collecting child of bench/guest-collect.ts. That bench transpiles this file to plain JavaScript and runs it with
// Node, so that the process holds what the guest holds (the built dist/ modules, koffi, the NVML and NSCQ doubles) and
// not Node's TypeScript loader, which alone adds ~20 MB of RSS: its numbers are the guest's.
// Arguments: <recorded.json> <runs> <repository root>.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export interface Recorded {
  nvml: string;
  nscq: string;
  nonce: string;
  gpus: { report: string; chain: string; vbios: string }[];
  switches: { report: string; chain: string }[];
}

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, "hex"));
const kib = (field: string): number =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);

async function main(file: string, runs: number, root: string): Promise<void> {
  const recorded = JSON.parse(readFileSync(file, "utf8")) as Recorded;
  const koffi = (await import("koffi")).default;
  const nonce = bytes(recorded.nonce);
  const nvmlControls = koffi.load(recorded.nvml);
  const record = nvmlControls.func(
    "int fake_nvml_record_device(const uint8_t *nonce, const uint8_t *report, unsigned int report_size, const uint8_t *chain, unsigned int chain_size, const char *vbios)",
  ) as (n: Uint8Array, r: Uint8Array, rs: number, c: Uint8Array, cs: number, v: string) => number;
  for (const gpu of recorded.gpus) {
    const report = bytes(gpu.report);
    const chain = bytes(gpu.chain);
    record(nonce, report, report.length, chain, chain.length, gpu.vbios);
  }
  const addSwitch = koffi
    .load(recorded.nscq)
    .func(
      "int fake_nscq_add_switch(const uint8_t *uuid, const uint8_t *nonce, const uint8_t *report, uint32_t report_size, const uint8_t *chain, uint32_t chain_size)",
    ) as (u: Uint8Array, n: Uint8Array, r: Uint8Array, rs: number, c: Uint8Array, cs: number) => number;
  for (const [i, s] of recorded.switches.entries()) {
    const report = bytes(s.report);
    const chain = bytes(s.chain);
    addSwitch(new Uint8Array(16).fill(i + 1), nonce, report, report.length, chain, chain.length);
  }
  const mod = async <T>(path: string): Promise<T> =>
    (await import(pathToFileURL(join(root, "dist", `${path}.js`)).href)) as T;
  const { GpusAndSwitches } = await mod<typeof import("../guest/src/providers/nscq/gpus-and-switches.ts")>(
    "guest/src/providers/nscq/gpus-and-switches",
  );
  const { NscqSwitches } = await mod<typeof import("../guest/src/providers/nscq/nscq-switches.ts")>(
    "guest/src/providers/nscq/nscq-switches",
  );
  const { loadKoffiNscq } = await mod<typeof import("../guest/src/providers/nscq/koffi-nscq.ts")>(
    "guest/src/providers/nscq/koffi-nscq",
  );
  const { NvmlGpus } = await mod<typeof import("../guest/src/providers/nvml/nvml-gpus.ts")>(
    "guest/src/providers/nvml/nvml-gpus",
  );
  const { loadKoffiNvml } = await mod<typeof import("../guest/src/providers/nvml/koffi-nvml.ts")>(
    "guest/src/providers/nvml/koffi-nvml",
  );
  const provider = new GpusAndSwitches(
    new NvmlGpus(() => loadKoffiNvml(recorded.nvml)),
    new NscqSwitches(() => loadKoffiNscq(recorded.nscq)),
  );
  const loadedKib = kib("VmRSS");
  const times: number[] = [];
  let devices = 0;
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    devices = (await provider.collect(nonce, { machine: "bench", gpus: [] })).length;
    times.push(performance.now() - start);
  }
  const rssKib = kib("VmRSS");
  // After a full GC: what stays (a leak would), as against garbage V8 had not yet collected.
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write(
    JSON.stringify({
      devices,
      times,
      loadedKib,
      rssKib,
      rssAfterGcKib: kib("VmRSS"),
      peakRssKib: kib("VmHWM"),
      heapUsedKib: Math.round(process.memoryUsage().heapUsed / 1024),
      externalKib: Math.round(process.memoryUsage().external / 1024),
    }) + "\n",
  );
}

const [file, runs, root] = process.argv.slice(2);
if (file === undefined || runs === undefined || root === undefined)
  throw new Error("usage: guest-collect-child <recorded.json> <runs> <repository root>");
await main(file, Number(runs), root);
