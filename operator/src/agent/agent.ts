import type { Logger } from "pino";
import type { ConfidentialHostStatus } from "../api/v1alpha1/generated/types.ts";
import { HostRoot } from "./host-root.ts";
import type { KubeJsonApi } from "../kube/rest-client.ts";
import {
  comparableReport,
  decidePublish,
  HostStatusPublisher,
  publishedReportOf,
  type PublishedReport,
} from "./publish.ts";
import { scanHost } from "./scan.ts";
import type { AgentObserver } from "./agent-metrics.ts";
import {
  agentLiveness,
  agentReadiness,
  healthLimits,
  type AgentLoopState,
  type HealthDecision,
} from "./health.ts";
import {
  observePodResources,
  podResourcesUnderHostRoot,
  type PodResourcesSource,
} from "./pod-resources/observe.ts";
import { loadOrCreateAgentKey, signHostReport, type AgentKey } from "./signing.ts";
import { ccModeProviders, wantsNodeLabels, type CcModeInputs } from "./sources/cc-mode/default-providers.ts";
import type { NodeLabelsSnapshot } from "./sources/cc-mode/node-labels-provider.ts";

export interface AgentConfig extends CcModeInputs {
  /** Where the host's / is mounted (`/host` in the DaemonSet, a fixture tree in tests). */
  hostRoot: string;
  nodeName: string;
  keyFile: string;
  intervalMs: number;
  /** Rewrite an unchanged report once it is this old, so observedAt stays fresh (default 10 × interval). */
  maxReportAgeMs: number;
  /** Host path of the kubelet's PodResources socket (default DEFAULT_POD_RESOURCES_SOCKET); "" to not ask. */
  podResourcesSocket?: string;
}

export interface AgentDeps {
  log: Logger;
  now?: () => Date;
  /** Replaces the kubelet's PodResources API under the host root (tests). */
  podResources?: PodResourcesSource;
  /** Reads the agent's own Node's labels (NVIDIA k8s-cc-manager's CC mode); unset without a cluster. */
  nodeLabels?: () => Promise<NodeLabelsSnapshot>;
  /** The agent's metrics (agent-metrics.ts); none when unset. */
  observer?: AgentObserver;
}

/** The Node's labels through the agent's API client; an API error becomes the snapshot's reason. */
export async function readNodeLabels(api: KubeJsonApi, nodeName: string): Promise<NodeLabelsSnapshot> {
  try {
    const node = (await api.get(`/api/v1/nodes/${encodeURIComponent(nodeName)}`)) as {
      metadata?: { labels?: Record<string, string> };
    };
    return { labels: node.metadata?.labels ?? {} };
  } catch (error) {
    return { error: `GET Node ${nodeName}: ${(error as Error).message}` };
  }
}

export interface SignedScan {
  status: ConfidentialHostStatus;
  problems: string[];
  /** Checks that reported problems: the scan's sources, "tee", "podResources". */
  failingChecks: Set<string>;
}

/** One scan of the host root, signed with the agent's key. */
export async function scanAndSign(config: AgentConfig, key: AgentKey, deps: AgentDeps): Promise<SignedScan> {
  const now = (deps.now ?? (() => new Date()))();
  const labels =
    wantsNodeLabels(config) && deps.nodeLabels !== undefined ? await deps.nodeLabels() : undefined;
  const { status, problems, failingChecks } = await scanHost({
    host: new HostRoot(config.hostRoot),
    ccModeProviders: ccModeProviders(config, now, labels),
    now,
  });
  const failing = new Set(failingChecks);
  const source = deps.podResources ?? podResourcesUnderHostRoot(config.hostRoot, config.podResourcesSocket);
  if (source === undefined)
    return { status: await signHostReport(config.nodeName, status, key), problems, failingChecks: failing };
  const observed = await observePodResources(source, status.gpus ?? []);
  if (observed.problems.length > 0) failing.add("podResources");
  return {
    status: await signHostReport(config.nodeName, { ...status, podResources: observed.podResources }, key),
    problems: [...problems, ...observed.problems],
    failingChecks: failing,
  };
}

/** Loads (or creates) the key and logs which one is in use; never logs key material. */
export async function loadAgentKey(config: AgentConfig, log: Logger): Promise<AgentKey> {
  const { key, created, looseMode } = await loadOrCreateAgentKey(config.keyFile);
  log.info(
    { keyId: key.keyId, keyFile: config.keyFile, created },
    created ? "Created agent key" : "Loaded agent key",
  );
  if (looseMode) log.warn({ keyFile: config.keyFile }, "Agent key file is readable by group or others");
  return key;
}

export interface AgentHandle {
  /** Scan now (SIGHUP); coalesces with a scan already running. */
  trigger(reason: string): void;
  /** Stops the loop after the scan in flight (SIGTERM). */
  stop(): Promise<void>;
}

/**
 * Scans every interval and on trigger, and patches the node's ConfidentialHost status when
 * decidePublish says so. API errors are logged and retried with backoff; scans never throw.
 */
export class AgentLoop implements AgentHandle {
  readonly #config: AgentConfig;
  readonly #deps: AgentDeps;
  readonly #key: AgentKey;
  readonly #publisher: HostStatusPublisher;
  #current: ConfidentialHostStatus | undefined;
  #known = false;
  #published: PublishedReport | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #failures = 0;
  readonly #state: AgentLoopState;

  constructor(config: AgentConfig, deps: AgentDeps, key: AgentKey, api: KubeJsonApi) {
    this.#config = config;
    this.#deps = { nodeLabels: () => readNodeLabels(api, config.nodeName), ...deps };
    this.#key = key;
    this.#publisher = new HostStatusPublisher(api, config.nodeName);
    this.#state = { startedAtMs: this.#nowMs() };
  }

  #nowMs(): number {
    return (this.#deps.now ?? (() => new Date()))().getTime();
  }

  #reportCurrent(reason: "initial" | "changed" | "refresh" | "unchanged"): void {
    const at = this.#nowMs();
    this.#state.reportCurrentAtMs = at;
    this.#deps.observer?.reportCurrent(reason, at);
  }

  /** /healthz: is the scan loop turning (health.ts)? */
  liveness(): HealthDecision {
    return agentLiveness(this.#state, this.#nowMs(), this.#limits());
  }

  /** /readyz: has a current report been published (health.ts)? */
  readiness(): HealthDecision {
    return agentReadiness(this.#state, this.#nowMs(), this.#limits());
  }

  #limits() {
    return healthLimits(this.#config.intervalMs, this.#config.maxReportAgeMs);
  }

  /** One scan-and-publish; throws API errors (used by --once and by the loop). */
  async cycle(reason: string): Promise<void> {
    const { log } = this.#deps;
    const started = performance.now();
    const { status, problems, failingChecks } = await scanAndSign(this.#config, this.#key, this.#deps);
    const scanMs = Math.round(performance.now() - started);
    this.#deps.observer?.scanned(scanMs / 1000, failingChecks, this.#nowMs());
    if (!this.#known) {
      const host = await this.#publisher.ensureHost();
      this.#current = host.status;
      this.#published = publishedReportOf(this.#config.nodeName, host.status);
      this.#known = true;
    }
    const next = {
      comparable: comparableReport(this.#config.nodeName, status),
      observedAtMs: Date.parse(status.observedAt ?? ""),
    };
    const decision = decidePublish(this.#published, next, this.#config.maxReportAgeMs);
    const summary = {
      trigger: reason,
      scanMs,
      tee: status.tee?.type,
      teeEnabled: status.tee?.enabled,
      gpus: status.gpuSummary?.total,
      ccReady: status.gpuSummary?.ccReady,
      gpuMode: status.gpuSummary?.mode,
      ccModeSource: status.gpuSummary?.ccModeSource,
      problems: problems.length,
    };
    if (!decision.write) {
      this.#reportCurrent("unchanged");
      log.debug({ ...summary, decision: decision.reason }, "Skipped ConfidentialHost status write");
      return;
    }
    try {
      const stored = await this.#publisher.patchStatus(this.#current, status);
      this.#current = stored.status;
      this.#published = next;
    } catch (error) {
      this.#known = false;
      throw error;
    }
    this.#reportCurrent(decision.reason);
    log.info({ ...summary, decision: decision.reason }, "Patched ConfidentialHost status");
    if (decision.reason !== "refresh" && problems.length > 0)
      log.info({ problems }, "Host scan found problems");
  }

  start(): void {
    this.trigger("start");
  }

  trigger(reason: string): void {
    if (this.#stopped) return;
    if (this.#inFlight !== undefined) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#inFlight = this.#run(reason).finally(() => {
      this.#inFlight = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        this.trigger("coalesced");
      }
    });
  }

  async #run(reason: string): Promise<void> {
    let delay = this.#config.intervalMs;
    this.#state.cycleStartedAtMs = this.#nowMs();
    try {
      await this.cycle(reason);
      this.#failures = 0;
    } catch (error) {
      this.#failures += 1;
      delay = Math.min(this.#config.intervalMs, 1000 * 2 ** Math.min(this.#failures - 1, 10));
      this.#deps.observer?.publishFailed();
      this.#deps.log.error({ err: error, retryInMs: delay }, "Failed to publish ConfidentialHost status");
    } finally {
      delete this.#state.cycleStartedAtMs;
      this.#state.cycleEndedAtMs = this.#nowMs();
    }
    if (!this.#stopped)
      this.#timer = setTimeout(() => {
        this.trigger("interval");
      }, delay);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }
}
