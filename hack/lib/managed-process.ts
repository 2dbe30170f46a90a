import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { createServer, type AddressInfo } from "node:net";

/** A child process whose output goes to a log file and which cannot outlive this Node process. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with a short description ("exit code 1", "signal SIGKILL") once the process is gone. */
  readonly exited: Promise<string>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<{ pid: number; hasExited(): boolean }>();
let exitHookInstalled = false;

/**
 * SIGKILLs every managed process still running. Synchronous, so usable from an 'exit' listener
 * (which is also installed automatically with the first spawn).
 */
export function killManagedProcessesNow(): void {
  for (const child of running) {
    if (!child.hasExited()) killQuietly(child.pid, "SIGKILL");
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", killManagedProcessesNow);
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

// setpriv sets PR_SET_PDEATHSIG and then execs the binary (same pid), so the kernel kills the child
// even when this process dies from SIGKILL and no JavaScript runs at all.
const setpriv = process.platform === "linux" ? findOnPath("setpriv") : undefined;

export function spawnManaged(name: string, binary: string, args: string[], logPath: string): ManagedProcess {
  installExitHook();
  const logFd = openSync(logPath, "a");
  const [command, commandArgs] = setpriv
    ? [setpriv, ["--pdeathsig", "KILL", "--", binary, ...args]]
    : [binary, args];
  const child = spawn(command, commandArgs, { stdio: ["ignore", logFd, logFd], detached: false });
  closeSync(logFd);

  let exitDescription: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.once("error", (error) => {
      exitDescription = `failed to start: ${error.message}`;
      resolve(exitDescription);
    });
    child.once("exit", (code, signal) => {
      exitDescription = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
      resolve(exitDescription);
    });
  });
  const pid = child.pid ?? -1;
  const entry = { pid, hasExited: () => exitDescription !== undefined };
  running.add(entry);
  void exited.then(() => running.delete(entry));

  let stopping: Promise<void> | undefined;
  return {
    name,
    pid,
    logPath,
    exited,
    hasExited: entry.hasExited,
    stop(graceMs = 10_000) {
      stopping ??= stopChild(pid, exited, entry.hasExited, graceMs);
      return stopping;
    },
  };
}

async function stopChild(
  pid: number,
  exited: Promise<string>,
  hasExited: () => boolean,
  graceMs: number,
): Promise<void> {
  if (hasExited()) return;
  killQuietly(pid, "SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      resolve("timeout");
    }, graceMs);
  });
  const outcome = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    killQuietly(pid, "SIGKILL");
    await exited;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * True when the pid belongs to a live process. Zombies count as dead: a detached child whose parent
 * exited waits for init to reap it, and kill(pid, 0) would still succeed on it.
 */
export function isProcessRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** argv of a running process (Linux only; empty when unknown). */
export function processArgv(pid: number): string[] {
  try {
    return readFileSync(`/proc/${String(pid)}/cmdline`, "utf8")
      .split("\0")
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** The last lines of a (log) file, or a note when it cannot be read. */
export function tailFile(path: string, lines = 30): string {
  try {
    const text = readFileSync(path, "utf8");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch (error) {
    return `(cannot read ${path}: ${(error as Error).message})`;
  }
}

/** Distinct free TCP ports on 127.0.0.1; all listeners stay open until every port is known. */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => {
            resolve(server);
          });
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
    ),
  );
  return ports;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
