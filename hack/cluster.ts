// Local control plane that keeps running between commands:
//   node hack/cluster.ts up       start (or reuse) it; prints `export KUBECONFIG=...` on stdout
//   node hack/cluster.ts status   exit code 0 when running
//   node hack/cluster.ts down     stop it
// `up` starts a detached `serve` supervisor that owns etcd and kube-apiserver, so they die with it.
import { spawn } from "node:child_process";
import { existsSync, openSync, closeSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane, type ControlPlane } from "./lib/control-plane.ts";
import { resolveBinDir } from "./lib/find-binaries.ts";
import { isProcessRunning, processArgv, sleep, tailFile } from "./lib/managed-process.ts";

const THIS_FILE = fileURLToPath(import.meta.url);
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const UP_TIMEOUT_MS = 180_000;
const DOWN_TIMEOUT_MS = 30_000;

interface ClusterPaths {
  dir: string;
  kubeconfig: string;
  supervisorPid: string;
  supervisorLog: string;
  ready: string;
  failed: string;
  pids: string;
}

function clusterPaths(): ClusterPaths {
  const dir = process.env["TRUSTGATE_CLUSTER_DIR"] ?? join(REPO_ROOT, ".cache", "cluster");
  return {
    dir,
    kubeconfig: join(dir, "kubeconfig"),
    supervisorPid: join(dir, "supervisor.pid"),
    supervisorLog: join(dir, "supervisor.log"),
    ready: join(dir, "ready"),
    failed: join(dir, "failed"),
    pids: join(dir, "pids.json"),
  };
}

const say = (line: string): void => {
  process.stderr.write(`cluster: ${line}\n`);
};

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The supervisor's pid, only when that pid is alive and really is our `cluster.ts serve`. */
function runningSupervisor(paths: ClusterPaths): number | undefined {
  const pid = Number(readIfExists(paths.supervisorPid)?.trim());
  if (!isProcessRunning(pid)) return undefined;
  const argv = processArgv(pid);
  const isOurs = argv.some((arg) => arg.endsWith("cluster.ts")) && argv.includes("serve");
  return isOurs ? pid : undefined;
}

/** Control plane pids from pids.json that are alive and still run the recorded binary. */
function leftoverProcesses(paths: ClusterPaths): { name: string; pid: number }[] {
  const recorded = JSON.parse(readIfExists(paths.pids) ?? "{}") as Record<string, number>;
  return Object.entries(recorded)
    .map(([name, pid]) => ({ name, pid }))
    .filter(({ name, pid }) => isProcessRunning(pid) && basename(processArgv(pid)[0] ?? "") === name);
}

async function terminate(pid: number, timeoutMs: number): Promise<"exited" | "killed"> {
  signalQuietly(pid, "SIGTERM");
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!isProcessRunning(pid)) return "exited";
    await sleep(100);
  }
  signalQuietly(pid, "SIGKILL");
  return "killed";
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // exited meanwhile
  }
}

/** Stops etcd/kube-apiserver left behind by a supervisor that died without cleaning up. */
async function stopLeftovers(paths: ClusterPaths): Promise<boolean> {
  const leftovers = leftoverProcesses(paths);
  for (const { name, pid } of leftovers) {
    const how = await terminate(pid, 10_000);
    say(`stopped leftover ${name} (pid ${pid}, ${how})`);
  }
  return leftovers.length > 0;
}

async function down(paths: ClusterPaths): Promise<number> {
  const supervisor = runningSupervisor(paths);
  if (supervisor !== undefined) {
    const how = await terminate(supervisor, DOWN_TIMEOUT_MS);
    say(`stopped supervisor (pid ${supervisor}, ${how})`);
  }
  const hadLeftovers = await stopLeftovers(paths);
  await rm(paths.ready, { force: true });
  await rm(paths.supervisorPid, { force: true });
  if (supervisor === undefined && !hadLeftovers) say("no local control plane was running");
  return 0;
}

function printExport(paths: ClusterPaths): void {
  process.stdout.write(`export KUBECONFIG=${paths.kubeconfig}\n`);
}

async function up(paths: ClusterPaths): Promise<number> {
  const existing = runningSupervisor(paths);
  if (existing !== undefined && existsSync(paths.ready)) {
    say(`already running (supervisor pid ${existing}): ${readIfExists(paths.ready)?.trim() ?? ""}`);
    printExport(paths);
    return 0;
  }
  if (existing === undefined) {
    await stopLeftovers(paths);
    // A fresh data dir each time: certificates, ports and etcd data all belong to one run.
    await rm(paths.dir, { recursive: true, force: true });
    await mkdir(paths.dir, { recursive: true });
    const binDir = await resolveBinDir();
    const logFd = openSync(paths.supervisorLog, "a");
    const supervisor = spawn(process.execPath, [THIS_FILE, "serve"], {
      detached: true,
      stdio: ["ignore", logFd, logFd],
      env: { ...process.env, TRUSTGATE_BIN_DIR: binDir, TRUSTGATE_CLUSTER_DIR: paths.dir },
    });
    closeSync(logFd);
    supervisor.unref();
    await writeFile(paths.supervisorPid, `${String(supervisor.pid)}\n`);
    say(`starting (supervisor pid ${String(supervisor.pid)}, log ${paths.supervisorLog})`);
  } else {
    say(`still starting (supervisor pid ${existing}), waiting`);
  }
  return waitForSupervisor(paths);
}

async function waitForSupervisor(paths: ClusterPaths): Promise<number> {
  const deadline = performance.now() + UP_TIMEOUT_MS;
  for (;;) {
    if (existsSync(paths.ready)) {
      say(`ready: ${readIfExists(paths.ready)?.trim() ?? ""}`);
      printExport(paths);
      return 0;
    }
    const failure = readIfExists(paths.failed);
    const gone = runningSupervisor(paths) === undefined;
    if (failure !== undefined || gone || performance.now() > deadline) {
      say(failure ?? (gone ? "supervisor exited before the control plane was ready" : "timed out"));
      say(`--- last lines of ${paths.supervisorLog} ---\n${tailFile(paths.supervisorLog, 30)}`);
      await down(paths);
      return 1;
    }
    await sleep(200);
  }
}

function status(paths: ClusterPaths): number {
  const supervisor = runningSupervisor(paths);
  if (supervisor === undefined) {
    say("not running");
    return 1;
  }
  const state = existsSync(paths.ready) ? `running: ${readIfExists(paths.ready)?.trim() ?? ""}` : "starting";
  say(`${state} (supervisor pid ${supervisor}, kubeconfig ${paths.kubeconfig})`);
  return 0;
}

/** The detached supervisor: owns the control plane until SIGTERM/SIGINT/SIGHUP or a crash. */
async function serve(paths: ClusterPaths): Promise<number> {
  const stamp = (line: string): void => {
    process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  };
  await writeFile(paths.supervisorPid, `${process.pid}\n`);
  let controlPlane: ControlPlane | undefined;
  let finishing: Promise<never> | undefined;
  const finish = (code: number): Promise<never> => {
    finishing ??= shutDown(code);
    return finishing;
  };
  const shutDown = async (code: number): Promise<never> => {
    await rm(paths.ready, { force: true });
    await controlPlane?.stop();
    await rm(paths.supervisorPid, { force: true });
    stamp(`supervisor exiting with code ${code}`);
    process.exit(code);
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.once(signal, () => {
      stamp(`received ${signal}, stopping`);
      // During startup controlPlane is still unset; exiting then lets the process exit hook kill children.
      void finish(0);
    });
  }
  try {
    const binDir = await resolveBinDir();
    controlPlane = await startControlPlane({ binDir, dir: paths.dir, log: stamp });
  } catch (error) {
    await writeFile(paths.failed, `${(error as Error).message}\n`);
    stamp(`start failed: ${(error as Error).message}`);
    return finish(1);
  }
  const summary = `${controlPlane.server} (started in ${(controlPlane.startupMs / 1000).toFixed(1)}s)`;
  await writeFile(paths.ready, `${summary}\n`);
  stamp(`ready: ${summary}`);
  const exit = await controlPlane.anyExited;
  // After a signal the exit is expected, and the shutdown already under way ends the process.
  if (finishing !== undefined) return finishing;
  stamp(`unexpected exit of ${exit}`);
  await writeFile(paths.failed, `unexpected exit of ${exit}\n`);
  return finish(1);
}

async function main(command: string | undefined): Promise<number> {
  const paths = clusterPaths();
  switch (command) {
    case "up":
      return up(paths);
    case "down":
      return down(paths);
    case "status":
      return status(paths);
    case "serve":
      return serve(paths);
    default:
      process.stderr.write("usage: node hack/cluster.ts up|down|status\n");
      return 2;
  }
}

process.exitCode = await main(process.argv[2]);
