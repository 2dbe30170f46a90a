import { homedir } from "node:os";
import { AgentLoop, loadAgentKey, scanAndSign, type AgentConfig } from "../agent/agent.ts";
import { loadKubeConnection } from "../kube/load-connection.ts";
import { KubeRestClient } from "../kube/rest-client.ts";
import { DEFAULT_KEY_FILE } from "../agent/signing.ts";
import { DEFAULT_PROBE_STATE_FILE } from "../agent/cc-probe/probe-state.ts";
import { CC_MODE_SOURCE_SETTINGS, type CcModeSourceSetting } from "../agent/sources/cc-mode/provider.ts";
import { CC_MODE_STATE_FILE } from "../agent/sources/cc-mode/state-file-provider.ts";
import { DEFAULT_POD_RESOURCES_SOCKET } from "../agent/pod-resources/observe.ts";
import { type Command, EXIT_FAILURE, EXIT_OK, type ParsedArgs, UsageError } from "../cli/command.ts";
import { parseDuration } from "../runtime/duration.ts";
import { createLogger } from "../runtime/logger.ts";
import { onSignals } from "../cli/signals.ts";
import { checkHostRoot } from "./agent-host-root.ts";
import { AgentMetrics } from "../agent/agent-metrics.ts";
import { parseBindAddress } from "../runtime/listen.ts";
import { startMetricsServer, type MetricsServer } from "../runtime/metrics-server.ts";

const USAGE = `Usage: trustgate agent [options]

Scans this node's host (sysfs, procfs, PCI, GPU CC mode), signs the result with the node's key and
writes it to the status of the ConfidentialHost named like the node.

  --host-root <dir>             the host's / as mounted in the container (default /host)
  --node-name <name>            node to report for (default $NODE_NAME)
  --key-file <path>             ES256 JWK, created with mode 0600 on first start (default ${DEFAULT_KEY_FILE})
  --interval <duration>         scan interval (default 60s); SIGHUP scans at once
  --max-report-age <duration>   rewrite an unchanged report after this long (default 10 x interval)
  --once                        scan and publish once, then exit
  --print                       print the signed status JSON and exit; no cluster needed
  --kubeconfig <path>           default: $KUBECONFIG, ~/.kube/config, then in-cluster
  --cc-mode-source <source>     where GPU CC modes come from: auto (default: the first of labels,
                                probe-file, file that answers; sources that disagree make a GPU
                                unknown), labels (NVIDIA k8s-cc-manager's labels on this Node),
                                probe-file (trustgate cc-probe's state file) or file (manual override)
  --cc-probe-file <host path>   trustgate cc-probe's state file (default ${DEFAULT_PROBE_STATE_FILE})
  --cc-probe-max-age <duration> refuse probe results older than this (default 24h)
  --cc-mode-file <host path>    manual CC mode file (default ${CC_MODE_STATE_FILE})
  --pod-resources-socket <host path>  the kubelet's PodResources API, for which GPUs each pod was given
                                (default ${DEFAULT_POD_RESOURCES_SOCKET}; "" to not ask)
  --metrics-bind-address <addr> serve /metrics, /healthz (the scan loop turns) and /readyz (a report
                                is published) on host:port, e.g. :8080 (the chart's); default: off, so
                                several agents on one machine (tests, the demo) need no ports
  --log-level <level>           pino level (default $LOG_LEVEL or info)`;

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

function duration(args: ParsedArgs, name: string, fallback: string): number {
  const value = text(args, name) ?? fallback;
  try {
    const ms = parseDuration(value);
    if (ms <= 0) throw new Error(`must be positive`);
    return ms;
  } catch (error) {
    throw new UsageError(`trustgate agent: --${name}: ${(error as Error).message}`, { cause: error });
  }
}

function ccModeSource(value: string | undefined): CcModeSourceSetting {
  if (value === undefined) return "auto";
  if (!CC_MODE_SOURCE_SETTINGS.includes(value as CcModeSourceSetting))
    throw new UsageError(
      `trustgate agent: --cc-mode-source must be one of ${CC_MODE_SOURCE_SETTINGS.join(", ")}, got ${JSON.stringify(value)}`,
    );
  return value as CcModeSourceSetting;
}

/** The agent's configuration from its flags and environment (NODE_NAME). */
export function agentConfigFromArgs(args: ParsedArgs, env: NodeJS.ProcessEnv): AgentConfig {
  const nodeName = text(args, "node-name") ?? env["NODE_NAME"];
  if (nodeName === undefined || nodeName === "")
    throw new UsageError("trustgate agent: --node-name (or NODE_NAME) is required");
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(nodeName))
    throw new UsageError(`trustgate agent: node name ${JSON.stringify(nodeName)} is not a valid Node name`);
  const intervalMs = duration(args, "interval", "60s");
  const config: AgentConfig = {
    hostRoot: text(args, "host-root") ?? "/host",
    nodeName,
    keyFile: text(args, "key-file") ?? DEFAULT_KEY_FILE,
    intervalMs,
    maxReportAgeMs: duration(args, "max-report-age", `${intervalMs * 10}ms`),
    ccModeSource: ccModeSource(text(args, "cc-mode-source")),
    ccModeStateFile: text(args, "cc-mode-file") ?? CC_MODE_STATE_FILE,
    ccProbeStateFile: text(args, "cc-probe-file") ?? DEFAULT_PROBE_STATE_FILE,
    ccProbeMaxAgeMs: duration(args, "cc-probe-max-age", "24h"),
  };
  const podResourcesSocket = text(args, "pod-resources-socket");
  if (podResourcesSocket !== undefined) config.podResourcesSocket = podResourcesSocket;
  return config;
}

/** The --metrics-bind-address, checked before anything starts; undefined: no server. */
function metricsBindAddress(args: ParsedArgs): string | undefined {
  const bind = text(args, "metrics-bind-address");
  if (bind === undefined || bind === "" || bind === "0") return undefined;
  try {
    parseBindAddress(bind);
  } catch (error) {
    throw new UsageError(`trustgate agent: --metrics-bind-address: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return bind;
}

/** Resolves on SIGTERM or SIGINT; SIGHUP triggers a scan. */
function untilTerminated(loop: AgentLoop): Promise<string> {
  return new Promise((resolve) => {
    const dispose = onSignals({
      stop: (signal) => {
        dispose();
        resolve(signal);
      },
      hangup: () => {
        loop.trigger("SIGHUP");
      },
    });
  });
}

export const agentCommand: Command = {
  name: "agent",
  summary: "Report this node's confidential-computing readiness (DaemonSet agent)",
  usage: USAGE,
  options: {
    "host-root": { type: "string" },
    "node-name": { type: "string" },
    "key-file": { type: "string" },
    interval: { type: "string" },
    "max-report-age": { type: "string" },
    once: { type: "boolean" },
    print: { type: "boolean" },
    kubeconfig: { type: "string" },
    "cc-mode-source": { type: "string" },
    "cc-mode-file": { type: "string" },
    "cc-probe-file": { type: "string" },
    "cc-probe-max-age": { type: "string" },
    "pod-resources-socket": { type: "string" },
    "metrics-bind-address": { type: "string" },
    "log-level": { type: "string" },
  },
  async run(args, io) {
    const config = agentConfigFromArgs(args, process.env);
    const bind = metricsBindAddress(args);
    await checkHostRoot(config.hostRoot);
    const log = createLogger("trustgate-agent", text(args, "log-level"));
    let client: KubeRestClient | undefined;
    let server: MetricsServer | undefined;
    try {
      const key = await loadAgentKey(config, log);
      if (args.values["print"] === true) {
        const { status } = await scanAndSign(config, key, { log });
        io.stdout(`${JSON.stringify(status, null, 2)}\n`);
        return EXIT_OK;
      }
      const connection = await loadKubeConnection({
        kubeconfig: text(args, "kubeconfig"),
        env: process.env,
        home: homedir(),
      });
      log.info({ server: connection.server, from: connection.source }, "Using Kubernetes API");
      client = new KubeRestClient(connection);
      const metrics = bind === undefined || args.values["once"] === true ? undefined : new AgentMetrics();
      const loop = new AgentLoop(
        config,
        { log, ...(metrics === undefined ? {} : { observer: metrics }) },
        key,
        client,
      );
      if (args.values["once"] === true) {
        await loop.cycle("once");
        return EXIT_OK;
      }
      if (metrics !== undefined)
        server = await startMetricsServer({
          address: bind,
          metrics,
          log,
          livenessChecks: [{ name: "scan-loop", ready: () => loop.liveness() }],
          readinessChecks: [{ name: "report-published", ready: () => loop.readiness() }],
        });
      log.info(
        { node: config.nodeName, hostRoot: config.hostRoot, intervalMs: config.intervalMs },
        "Started agent",
      );
      loop.start();
      const signal = await untilTerminated(loop);
      await loop.stop();
      log.info({ signal }, "Stopped agent");
      return EXIT_OK;
    } catch (error) {
      log.error({ err: error }, "Agent failed");
      io.stderr(`trustgate agent: ${(error as Error).message}\n`);
      return EXIT_FAILURE;
    } finally {
      await server?.close();
      // Idle keep-alive sockets would otherwise hold the process open.
      client?.close();
    }
  },
};
