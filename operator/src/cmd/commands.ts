import type { Command } from "../cli/command.ts";
import { agentCommand } from "./agent.ts";
import { controllerCommand } from "./controller.ts";
import { versionCommand } from "./version.ts";

export const commands: readonly Command[] = [versionCommand, agentCommand, controllerCommand];
