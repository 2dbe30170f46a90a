import { runCli } from "../cli/main.ts";
import { commands } from "./commands.ts";

const code = await runCli(
  commands,
  process.argv.slice(2),
  {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  },
  { debug: process.env["TRUSTGATE_DEBUG"] === "1" },
);
process.exitCode = code;
