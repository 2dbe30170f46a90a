import { type Command, type CommandIo, EXIT_USAGE, parseCommandArgs, UsageError } from "./command.ts";

export function renderHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return ["Usage: trustgate <command> [options]", "", "Commands:", ...lines, ""].join("\n");
}

export async function runCli(commands: readonly Command[], argv: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stdout(renderHelp(commands));
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr(`trustgate: unknown command '${name}'\n\n${renderHelp(commands)}`);
    return EXIT_USAGE;
  }
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
