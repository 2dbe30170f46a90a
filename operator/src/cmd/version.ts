import type { Command } from "../cli/command.ts";
import { versionInfo } from "../version.ts";

export const versionCommand: Command = {
  name: "version",
  summary: "Print the trustgate version",
  usage: "Usage: trustgate version [--json]",
  options: { json: { type: "boolean" } },
  run(args, io) {
    const info = versionInfo();
    io.stdout(
      args.values["json"] === true
        ? `${JSON.stringify(info)}\n`
        : `trustgate ${info.version} (node ${info.node}, ${info.platform})\n`,
    );
    return Promise.resolve(0);
  },
};
