import type { Command } from "../cli/command.ts";
import { versionCommand } from "./version.ts";

export const commands: readonly Command[] = [versionCommand];
