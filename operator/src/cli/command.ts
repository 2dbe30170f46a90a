import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: ParseArgsOptionsConfig;
  /** The values a flag takes, where they are a fixed set (for `trustgate completion`). */
  choices?: Readonly<Record<string, readonly string[]>>;
  run(args: ParsedArgs, io: CommandIo): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** The command line is wrong (a flag, a missing argument): exit 2 with one line and a hint to `--help`. */
export class UsageError extends Error {}

/** The command line is right but its input is not (a file missing, not JSON, not what it should be): exit 2. */
export class InputError extends Error {}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Flags every command takes: `--help` and `--debug` (stack traces of unexpected errors). */
export const GLOBAL_OPTIONS = {
  help: { type: "boolean", short: "h" },
  debug: { type: "boolean" },
} as const satisfies ParseArgsOptionsConfig;

export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...command.options, ...GLOBAL_OPTIONS },
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals };
  } catch (error) {
    // Node adds a paragraph on positionals after `--` to an unknown option; the option is what matters.
    const message = (error as Error).message.replace(/\. To specify a positional argument[\s\S]*$/, "");
    throw new UsageError(`trustgate ${command.name}: ${message}`, { cause: error });
  }
}
