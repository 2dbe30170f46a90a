import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./samples.ts";

export interface TrustgateRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the process's stdin, which is then closed (default: closed at once). */
  stdin?: string;
  env?: NodeJS.ProcessEnv;
  /** `bin`: the built launcher ./bin/trustgate (needs `tsc -p tsconfig.build.json`); default: the sources. */
  via?: "source" | "bin";
}

/** Runs the trustgate CLI as a process, as a user would, and collects its exit status and output. */
export function runTrustgate(args: string[], options: RunOptions = {}): Promise<TrustgateRun> {
  const [command, prefix] =
    options.via === "bin"
      ? [join(REPO_ROOT, "bin/trustgate"), []]
      : [process.execPath, [join(REPO_ROOT, "operator/src/cmd/main.ts")]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, ...args], {
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      resolve({ code: code ?? (signal === null ? 1 : 128), stdout, stderr });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.stdin ?? "");
  });
}

/** The lines of an error report: a crash or usage error must be one line (and at most a hint line). */
export function stderrLines(run: TrustgateRun): string[] {
  return run.stderr.split("\n").filter((line) => line !== "");
}
