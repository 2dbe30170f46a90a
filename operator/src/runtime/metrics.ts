import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { CollateralMetrics } from "./collateral-metrics.ts";
import type { Controller, ReconcileOutcome } from "./controller.ts";
import type { WorkQueueObserver } from "./workqueue.ts";
import { registerBuildInfo } from "./build-info-metric.ts";

const RECONCILE_OUTCOMES: readonly ReconcileOutcome[] = ["success", "error", "terminal"];

export interface OperatorMetricsOptions {
  /** Node process metrics (CPU, memory, event loop lag, GC); default true. */
  processMetrics?: boolean;
  /** The trustgate_build_info version label; default this build's. */
  version?: string;
}

/** The operator's Prometheus metrics, in their own Registry rather than prom-client's global one. */
export class OperatorMetrics {
  readonly registry = new Registry();
  private readonly reconcileTotal: Counter<"controller" | "outcome">;
  private readonly reconcileDuration: Histogram<"controller">;
  private readonly reconcileErrors: Counter<"controller">;
  private readonly queueDepths = new Map<string, () => number>();
  private readonly queueAdds: Counter<"controller">;
  private readonly queueRetries: Counter<"controller">;
  private readonly queueDuration: Histogram<"controller">;
  private readonly leaders = new Map<string, () => boolean>();
  private readonly confidentialVMs: Gauge<"phase">;
  private readonly seenPhases = new Set<string>();
  readonly collateral: CollateralMetrics;
  private readonly tcbDriftSoon: Gauge;
  private kubevirtChecks: (() => readonly { check: string; ok: boolean }[]) | undefined;

  constructor(options: OperatorMetricsOptions = {}) {
    const registers = [this.registry];
    this.reconcileTotal = new Counter({
      name: "trustgate_reconcile_total",
      help: "Reconciles per controller and outcome (success, error, terminal).",
      labelNames: ["controller", "outcome"],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: "trustgate_reconcile_duration_seconds",
      help: "Time spent in one reconcile.",
      labelNames: ["controller"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "trustgate_reconcile_errors_total",
      help: "Reconciles that failed (retried or terminal).",
      labelNames: ["controller"],
      registers,
    });
    const queueDepths = this.queueDepths;
    new Gauge({
      name: "trustgate_workqueue_depth",
      help: "Keys waiting in a controller's work queue.",
      labelNames: ["controller"],
      registers,
      collect() {
        for (const [controller, depth] of queueDepths) this.set({ controller }, depth());
      },
    });
    this.queueAdds = new Counter({
      name: "trustgate_workqueue_adds_total",
      help: "Keys added to a controller's work queue.",
      labelNames: ["controller"],
      registers,
    });
    this.queueRetries = new Counter({
      name: "trustgate_workqueue_retries_total",
      help: "Keys re-queued with backoff after a failed reconcile.",
      labelNames: ["controller"],
      registers,
    });
    this.queueDuration = new Histogram({
      name: "trustgate_workqueue_queue_duration_seconds",
      help: "Time a key waited in a controller's work queue before a worker took it.",
      labelNames: ["controller"],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    });
    registerBuildInfo(this.registry, options.version);
    this.confidentialVMs = new Gauge({
      name: "trustgate_confidentialvms",
      help: "ConfidentialVMs per status phase.",
      labelNames: ["phase"],
      registers,
    });
    const leaders = this.leaders;
    new Gauge({
      name: "trustgate_leader",
      help: "1 while this process holds the leader election Lease, else 0.",
      labelNames: ["identity"],
      registers,
      collect() {
        for (const [identity, isLeader] of leaders) this.set({ identity }, isLeader() ? 1 : 0);
      },
    });
    this.collateral = new CollateralMetrics(this.registry);
    this.tcbDriftSoon = new Gauge({
      name: "trustgate_tcb_drift_soon_confidentialvms",
      help: "TDX ConfidentialVMs whose TCB Intel's next evaluation (PCS update=early) rates worse: TcbDriftSoon=True.",
      registers,
    });
    const kubevirtChecks = (): readonly { check: string; ok: boolean }[] => this.kubevirtChecks?.() ?? [];
    new Gauge({
      name: "trustgate_kubevirt_ready",
      help: "1 when the cluster's KubeVirt passes a preflight check (installed, deployed, feature gates, TDX QGS enforced, GPU host devices), else 0.",
      labelNames: ["check"],
      registers,
      collect() {
        for (const { check, ok } of kubevirtChecks()) this.set({ check }, ok ? 1 : 0);
      },
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Creates the controller's series at zero, so rate() and alerts work before the first reconcile. */
  addController(controller: string, queueDepth: () => number): void {
    for (const outcome of RECONCILE_OUTCOMES) this.reconcileTotal.inc({ controller, outcome }, 0);
    this.reconcileErrors.inc({ controller }, 0);
    this.reconcileDuration.zero({ controller });
    this.queueDepths.set(controller, queueDepth);
    this.queueAdds.inc({ controller }, 0);
    this.queueRetries.inc({ controller }, 0);
    this.queueDuration.zero({ controller });
  }

  /** The work queue hooks of one controller. */
  queueObserver(controller: string): WorkQueueObserver {
    return {
      added: () => {
        this.queueAdds.inc({ controller });
      },
      retried: () => {
        this.queueRetries.inc({ controller });
      },
      dequeued: (seconds) => {
        this.queueDuration.observe({ controller }, seconds);
      },
    };
  }

  observeReconcile(controller: string, outcome: ReconcileOutcome, ms: number): void {
    this.reconcileTotal.inc({ controller, outcome });
    this.reconcileDuration.observe({ controller }, ms / 1000);
    if (outcome !== "success") this.reconcileErrors.inc({ controller });
  }

  /** Reads the KubeVirt preflight checks at scrape time. */
  trackKubeVirt(checks: () => readonly { check: string; ok: boolean }[]): void {
    this.kubevirtChecks = checks;
  }

  /** Reads leadership at scrape time. */
  trackLeader(identity: string, isLeader: () => boolean): void {
    this.leaders.set(identity, isLeader);
  }

  /** ConfidentialVMs that Intel's next TCB evaluation will rate worse (TcbDriftSoon=True). */
  setTcbDriftSoon(count: number): void {
    this.tcbDriftSoon.set(count);
  }

  /** Replaces the per-phase counts; a phase reported before and missing now drops to 0. */
  setConfidentialVMPhases(counts: Readonly<Record<string, number>>): void {
    for (const phase of Object.keys(counts)) this.seenPhases.add(phase);
    for (const phase of this.seenPhases) this.confidentialVMs.set({ phase }, counts[phase] ?? 0);
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Counts every reconcile of the controller; its queue depth is read at scrape time. */
export function instrumentController(controller: Controller, metrics: OperatorMetrics): void {
  const name = controller.name;
  metrics.addController(name, () => controller.queue.length);
  controller.queue.observe(metrics.queueObserver(name));
  controller.onReconciled((_key, outcome, ms) => {
    metrics.observeReconcile(name, outcome, ms);
  });
}
