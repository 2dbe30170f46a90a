import type { Command } from "../cli/command.ts";
import { UsageError } from "../cli/command.ts";
import { ControllerManager } from "../controllers/manager.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { parseDuration } from "../runtime/duration.ts";
import { createLogger } from "../runtime/logger.ts";

const USAGE = `Usage: trustgate controller [--kubeconfig <file>] [--host-stale-after <duration>] [--resync <duration>]
                            [--workers <n>]

Runs the trustgate controllers: ConfidentialHost (verifies agents' signed reports, sets Validated,
labels Nodes) and ConfidentialVM (places CVMs on validated hosts, launches their KubeVirt VMs).`;

function durationFlag(value: unknown, fallback: string, flag: string): number {
  try {
    return parseDuration(typeof value === "string" ? value : fallback);
  } catch (error) {
    throw new UsageError(`trustgate controller: --${flag}: ${(error as Error).message}`);
  }
}

export const controllerCommand: Command = {
  name: "controller",
  summary: "Run the trustgate controllers",
  usage: USAGE,
  options: {
    kubeconfig: { type: "string" },
    "host-stale-after": { type: "string" },
    resync: { type: "string" },
    workers: { type: "string" },
  },
  async run(args) {
    const staleAfterMs = durationFlag(args.values["host-stale-after"], "5m", "host-stale-after");
    const resyncMs = durationFlag(args.values["resync"], "10m", "resync");
    const log = createLogger("trustgate-controller");
    const kc = loadKubeConfig(args.values["kubeconfig"] as string | undefined);
    const workers = Number(args.values["workers"] ?? 8);
    if (!Number.isInteger(workers) || workers < 1)
      throw new UsageError("trustgate controller: --workers must be a positive integer");
    const manager = new ControllerManager({ kc, log, hostStaleAfterMs: staleAfterMs, resyncMs, workers });
    await manager.start();
    log.info({ staleAfterMs, resyncMs }, "Started trustgate controller");

    await new Promise<void>((resolve) => {
      process.once("SIGTERM", () => {
        resolve();
      });
      process.once("SIGINT", () => {
        resolve();
      });
    });
    log.info("Stopping trustgate controller");
    await manager.stop();
    return 0;
  },
};
