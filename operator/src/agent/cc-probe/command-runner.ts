import { execFile } from "node:child_process";

export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Why the command could not run or finish (not found, timed out, killed). */
  error?: string;
}

/** Runs an external tool; never throws. Injected so tests and hosts without the tools need no processes. */
export type CommandRunner = (argv: readonly string[], timeoutMs: number) => Promise<CommandResult>;

export const execCommand: CommandRunner = (argv, timeoutMs) => {
  const [file, ...args] = argv;
  if (file === undefined)
    return Promise.resolve({ exitCode: null, stdout: "", stderr: "", error: "empty command" });
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ exitCode: 0, stdout, stderr });
          return;
        }
        const code = typeof error.code === "number" ? error.code : null;
        const reason = error.killed
          ? `timed out after ${timeoutMs} ms`
          : typeof error.code === "number"
            ? `exit code ${error.code}`
            : (error.code ?? error.message);
        resolve({ exitCode: code, stdout, stderr, error: reason });
      },
    );
  });
};
