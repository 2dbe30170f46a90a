import {
  type Command,
  type CommandIo,
  EXIT_FAILURE,
  EXIT_USAGE,
  InputError,
  parseCommandArgs,
  UsageError,
} from "./command.ts";
import { messageWithCause } from "../http/network-failure.ts";
import { printable } from "./printable.ts";
import { VERSION } from "../version.ts";

/** A subcommand listed by name and summary, whose module (and its dependencies) loads only when run. */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export interface CliEnvironment {
  /** `TRUSTGATE_DEBUG=1`: print the stack of an unexpected error (as `--debug` does). */
  debug?: boolean;
}

export function renderHelp(commands: readonly CommandEntry[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "Usage: trustgate [--debug] <command> [options]",
    "       trustgate --version",
    "",
    "Commands:",
    ...lines,
    "",
    "Run 'trustgate <command> --help' for a command's options. Exit status 2: the command line or its input is wrong.",
    "--debug (or TRUSTGATE_DEBUG=1) prints the stack trace of an unexpected error.",
    "",
  ].join("\n");
}

/** One line: error messages may span lines (a YAML parser's excerpt, a server's body); a terminal line must not. */
export function oneLine(text: string): string {
  return printable(text.replace(/\s*\n\s*/g, " ").trim());
}

function prefixed(commandName: string | undefined, message: string): string {
  const prefix = commandName === undefined ? "trustgate" : `trustgate ${commandName}`;
  return message.startsWith("trustgate") ? message : `${prefix}: ${message}`;
}

/**
 * What a thrown error becomes: usage and input errors one line and exit 2 (usage errors with a hint to --help),
 * anything else one line and exit 1, its stack only when debugging.
 */
export function reportError(
  error: unknown,
  commandName: string | undefined,
  io: CommandIo,
  debug: boolean,
): number {
  // Usage and input errors say what is wrong themselves; an unexpected one may be a bare "fetch failed".
  const message = oneLine(
    error instanceof UsageError || error instanceof InputError ? error.message : messageWithCause(error),
  );
  if (error instanceof UsageError) {
    const help = commandName === undefined ? "trustgate --help" : `trustgate ${commandName} --help`;
    io.stderr(`${prefixed(commandName, message)}\nRun '${help}' for usage.\n`);
    return EXIT_USAGE;
  }
  if (error instanceof InputError) {
    io.stderr(`${prefixed(commandName, message)}\n`);
    return EXIT_USAGE;
  }
  const line = prefixed(commandName, message || "unexpected error");
  if (debug && error instanceof Error && error.stack !== undefined) io.stderr(`${line}\n${error.stack}\n`);
  else io.stderr(`${line} (--debug for the stack trace)\n`);
  return EXIT_FAILURE;
}

/** `--debug` before the command, or anywhere before a `--` among the command's flags. */
function takeDebugFlag(argv: string[]): { argv: string[]; debug: boolean } {
  const end = argv.indexOf("--");
  const flags = end === -1 ? argv : argv.slice(0, end);
  if (!flags.includes("--debug")) return { argv, debug: false };
  const rest = end === -1 ? [] : argv.slice(end);
  return { argv: [...flags.filter((a) => a !== "--debug"), ...rest], debug: true };
}

export async function runCli(
  commands: readonly CommandEntry[],
  argvWithFlags: string[],
  io: CommandIo,
  environment: CliEnvironment = {},
): Promise<number> {
  const { argv, debug: debugFlag } = takeDebugFlag(argvWithFlags);
  const debug = debugFlag || environment.debug === true;
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stdout(renderHelp(commands));
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === "--version") {
    io.stdout(`trustgate ${VERSION}\n`);
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (entry === undefined) {
    const what = name.startsWith("-") ? `unknown flag '${name}'` : `unknown command '${name}'`;
    return reportError(new UsageError(what), undefined, io, debug);
  }
  try {
    const command = await entry.load();
    const args = parseCommandArgs(command, rest);
    if (args.values["help"] === true) {
      io.stdout(`${command.usage}\n`);
      return 0;
    }
    return await command.run(args, io);
  } catch (error) {
    return reportError(error, entry.name, io, debug);
  }
}
