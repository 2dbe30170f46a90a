import { type Command, EXIT_OK, UsageError } from "../cli/command.ts";
import { COMPLETION_SHELLS, type CompletionShell, completionScript } from "../cli/completion.ts";
import { commands } from "./commands.ts";

const USAGE = `Usage: trustgate completion bash|zsh

Prints a shell completion script for trustgate's commands and flags:
  bash: source <(trustgate completion bash)     (or save it in /etc/bash_completion.d/trustgate)
  zsh:  source <(trustgate completion zsh)      (or save it as _trustgate in a directory of $fpath)`;

export const completionCommand: Command = {
  name: "completion",
  summary: "Print a bash or zsh completion script",
  usage: USAGE,
  options: {},
  async run(args, io) {
    const [shell, ...extra] = args.positionals;
    if (shell === undefined || extra.length > 0 || !(COMPLETION_SHELLS as readonly string[]).includes(shell))
      throw new UsageError(`trustgate completion: give one shell: ${COMPLETION_SHELLS.join(" or ")}`);
    const loaded = await Promise.all(commands.map((entry) => entry.load()));
    io.stdout(completionScript(shell as CompletionShell, loaded));
    return EXIT_OK;
  },
};
