// Agent memory benchmark (issue 3, target <= 80 MB RSS): node bench/agent-rss.ts [--runs 3] [--loop-seconds 30]
// Runs the built agent (`make build`, then ./bin/trustgate as the DaemonSet would) against a local control
// plane (TRUSTGATE_BIN_DIR): the peak RSS of `agent --once` processes publishing the 8-GPU fixture's
// ConfidentialHost, and the RSS of a running agent after --loop-seconds with --interval 1s (a scan a
// second, so well past the JIT warm-up a 60 s interval reaches in an hour).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { startControlPlane } from "../hack/lib/control-plane.ts";
import { resolveBinDir } from "../hack/lib/find-binaries.ts";
import { sleep, spawnManaged } from "../hack/lib/managed-process.ts";
import { applyCrds, readCrdFile } from "../operator/test/support/crd-install.ts";
import { loadKubeConfig } from "../operator/src/kube/kubeconfig.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "3" }, "loop-seconds": { type: "string", default: "30" } },
});
const RUNS = Number(values.runs);
const LOOP_SECONDS = Number(values["loop-seconds"]);
const ROOT = new URL("..", import.meta.url).pathname;
const TRUSTGATE = join(ROOT, "bin/trustgate");
const FIXTURE = join(ROOT, "operator/test/fixtures/hosts/tdx-8xh100");
const TARGET_MB = 80;

// Preloaded into the agent: its peak RSS on exit, read by the kernel's own high-water mark.
const PEAK_RSS_PRELOAD = `import { readFileSync } from "node:fs";
process.on("exit", () => {
  const peak = /VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  process.stderr.write(\`peak-rss-kib \${peak}\\n\`);
});
`;

const mb = (kib: number) => +(kib / 1024).toFixed(1);

function agentOnce(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(TRUSTGATE, ["agent", "--once", ...args], { env }, (error, _stdout, stderr) => {
      const peak = /peak-rss-kib (\d+)/.exec(stderr)?.[1];
      if (error !== null || peak === undefined) reject(new Error(`agent --once failed: ${stderr}`));
      else resolve(Number(peak));
    });
  });
}

async function procStatusKib(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

if (!existsSync(join(ROOT, "dist/operator/src/kube/rest-client.js"))) {
  console.error("agent-rss: the agent is not built; run `make build` first");
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), "bench-agent-rss-"));
const controlPlane = await startControlPlane({ binDir: await resolveBinDir(), dir: join(dir, "cp") });
try {
  await applyCrds(
    loadKubeConfig(controlPlane.kubeconfigPath),
    await readCrdFile(join(ROOT, "crds/confidentialhosts.trustgate.io.yaml")),
  );
  const preload = join(dir, "peak-rss.mjs");
  await writeFile(preload, PEAK_RSS_PRELOAD);
  const common = ["--host-root", FIXTURE, "--key-file", join(dir, "agent-key.jwk")];
  const kubeconfig = ["--kubeconfig", controlPlane.kubeconfigPath];
  // The agent as the chart runs it: the chart's NODE_OPTIONS (V8 heap sizes), unless BENCH_NODE_OPTIONS.
  const chartValues = parse(await readFile(join(ROOT, "charts/trustgate/values.yaml"), "utf8")) as {
    agent?: { nodeOptions?: string };
  };
  const nodeOptions = process.env["BENCH_NODE_OPTIONS"] ?? chartValues.agent?.nodeOptions ?? "";
  const env = { ...process.env, NODE_OPTIONS: `${nodeOptions} --import=${pathToFileURL(preload).href}` };

  const onceKib: number[] = [];
  for (let run = 0; run < RUNS; run += 1)
    onceKib.push(await agentOnce(["--node-name", `bench-once-${run}`, ...common, ...kubeconfig], env));
  onceKib.sort((a, b) => a - b);
  const onceMb = { median: mb(onceKib[Math.floor(onceKib.length / 2)] ?? 0), max: mb(onceKib.at(-1) ?? 0) };

  let loop: { rssMb: number; peakMb: number } | undefined;
  if (LOOP_SECONDS > 0) {
    process.env["NODE_OPTIONS"] = nodeOptions;
    const agent = spawnManaged(
      "agent",
      TRUSTGATE,
      ["agent", "--node-name", "bench-loop", "--interval", "1s", ...common, ...kubeconfig],
      join(dir, "agent.log"),
    );
    await sleep(LOOP_SECONDS * 1000);
    if (agent.hasExited()) throw new Error(`agent stopped: ${await agent.exited}`);
    loop = {
      rssMb: mb(await procStatusKib(agent.pid, "VmRSS")),
      peakMb: mb(await procStatusKib(agent.pid, "VmHWM")),
    };
    await agent.stop();
  }

  console.log(
    JSON.stringify({
      fixture: "tdx-8xh100",
      nodeOptions,
      runs: RUNS,
      onceMb,
      loopSeconds: LOOP_SECONDS,
      loop,
    }),
  );
  const verdict = (value: number) => (value <= TARGET_MB ? "ok" : "OVER TARGET");
  console.log(
    `agent --once publish cycle, peak RSS: median ${onceMb.median} MB, max ${onceMb.max} MB (target <= ${TARGET_MB} MB): ${verdict(onceMb.max)}`,
  );
  if (loop !== undefined)
    console.log(
      `running agent (--interval 1s) after ${LOOP_SECONDS} s: RSS ${loop.rssMb} MB, peak ${loop.peakMb} MB: ${verdict(loop.peakMb)}`,
    );
  console.log("(MB = MiB as /proc reports it in KiB / 1024; the built agent as ./bin/trustgate runs it)");
} finally {
  await controlPlane.stop();
  await rm(dir, { recursive: true, force: true });
}
