import { stat } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../cli/command.ts";

/** What the agent reads under its host root in every scan: without them every fact would be "unknown". */
const REQUIRED_HOST_DIRECTORIES = ["sys", "proc"] as const;

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

/**
 * Refuses a `--host-root` that is not a host's root (a typo, a missing mount): the agent would otherwise publish a
 * report of unknowns that looks like a host without confidential computing. Operability, not security: the host
 * owner controls what is mounted there either way, and the report is appraised as host-asserted.
 */
export async function checkHostRoot(hostRoot: string): Promise<void> {
  if (!(await isDirectory(hostRoot)))
    throw new InputError(
      `trustgate agent: --host-root ${hostRoot} is not a directory (mount the host's / there, or point --host-root at it)`,
    );
  const missing: string[] = [];
  for (const name of REQUIRED_HOST_DIRECTORIES)
    if (!(await isDirectory(join(hostRoot, name)))) missing.push(`${name}/`);
  if (missing.length > 0)
    throw new InputError(
      `trustgate agent: --host-root ${hostRoot} has no ${missing.join(" or ")}: it is not a host's root (mount the host's /sys and /proc under it)`,
    );
}
