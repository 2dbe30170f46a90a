import { type Command, type CommandIo, EXIT_USAGE, parseCommandArgs, UsageError } from "./command.ts";

/** A subcommand listed by name and summary, whose module (and its dependencies) loads only when run. */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export function renderHelp(commands: readonly CommandEntry[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return ["Usage: trustgate <command> [options]", "", "Commands:", ...lines, ""].join("\n");
}

export async function runCli(
  commands: readonly CommandEntry[],
  argv: string[],
  io: CommandIo,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stdout(renderHelp(commands));
    return name === undefined ? EXIT_USAGE : 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (entry === undefined) {
    io.stderr(`trustgate: unknown command '${name}'\n\n${renderHelp(commands)}`);
    return EXIT_USAGE;
  }
  const command = await entry.load();
  try {
    const args = parseCommandArgs(command, rest);
    if (args.values["help"] === true) {
      io.stdout(`${command.usage}\n`);
      return 0;
    }
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${error.message}\n${command.usage}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
