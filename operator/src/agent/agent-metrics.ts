/**
 * The agent's Prometheus metrics, in their own Registry. Labels are bounded: `check` is one of AGENT_CHECKS (anything
 * else counts as "other"), `reason` one of the publish decisions.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { registerBuildInfo } from "../runtime/build-info-metric.ts";

/** The scan's sources (scan.ts defaultRegistry), the TEE decision, and the kubelet's PodResources answer. */
export const AGENT_CHECKS = [
  "platform",
  "tdx",
  "snp",
  "iommu",
  "gpus",
  "tee",
  "podResources",
  "other",
] as const;
export type AgentCheck = (typeof AGENT_CHECKS)[number];

const WRITE_REASONS = ["initial", "changed", "refresh"] as const;

/** What the agent loop reports about each cycle. */
export interface AgentObserver {
  scanned(seconds: number, failingChecks: ReadonlySet<string>, atMs: number): void;
  /** The ConfidentialHost holds the current report: `reason` says whether it was written, and why. */
  reportCurrent(reason: "initial" | "changed" | "refresh" | "unchanged", atMs: number): void;
  publishFailed(): void;
}

export interface AgentMetricsOptions {
  /** Node process metrics; default true. */
  processMetrics?: boolean;
  version?: string;
}

export class AgentMetrics implements AgentObserver {
  readonly registry = new Registry();
  private readonly scanDuration: Histogram;
  private readonly lastScan: Gauge;
  private readonly lastPublish: Gauge;
  private readonly checkFailing: Gauge<"check">;
  private readonly publishErrors: Counter;
  private readonly writes: Counter<"reason">;

  constructor(options: AgentMetricsOptions = {}) {
    const registers = [this.registry];
    registerBuildInfo(this.registry, options.version);
    this.scanDuration = new Histogram({
      name: "trustgate_agent_scan_duration_seconds",
      help: "Time one scan of the host took (sources, PodResources, signing).",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.lastScan = new Gauge({
      name: "trustgate_agent_last_scan_timestamp_seconds",
      help: "When the last scan of the host finished (Unix seconds).",
      registers,
    });
    this.lastPublish = new Gauge({
      name: "trustgate_agent_last_publish_timestamp_seconds",
      help: "When the ConfidentialHost was last confirmed to hold the current report, written or unchanged (Unix seconds).",
      registers,
    });
    this.checkFailing = new Gauge({
      name: "trustgate_agent_check_failing",
      help: "1 when the last scan's check reported problems (status.tee.details problems.<check>), else 0.",
      labelNames: ["check"],
      registers,
    });
    for (const check of AGENT_CHECKS) this.checkFailing.set({ check }, 0);
    this.publishErrors = new Counter({
      name: "trustgate_agent_publish_errors_total",
      help: "Cycles whose read or write of the ConfidentialHost failed (retried with backoff).",
      registers,
    });
    this.writes = new Counter({
      name: "trustgate_agent_status_writes_total",
      help: "ConfidentialHost status writes by reason (initial, changed, refresh of an unchanged report).",
      labelNames: ["reason"],
      registers,
    });
    for (const reason of WRITE_REASONS) this.writes.inc({ reason }, 0);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  scanned(seconds: number, failingChecks: ReadonlySet<string>, atMs: number): void {
    this.scanDuration.observe(seconds);
    this.lastScan.set(atMs / 1000);
    const failing = new Set<AgentCheck>(
      [...failingChecks].map((c) => (AGENT_CHECKS.includes(c as AgentCheck) ? (c as AgentCheck) : "other")),
    );
    for (const check of AGENT_CHECKS) this.checkFailing.set({ check }, failing.has(check) ? 1 : 0);
  }

  reportCurrent(reason: "initial" | "changed" | "refresh" | "unchanged", atMs: number): void {
    this.lastPublish.set(atMs / 1000);
    if (reason !== "unchanged") this.writes.inc({ reason });
  }

  publishFailed(): void {
    this.publishErrors.inc();
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
