import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { WorkQueue } from "./workqueue.ts";

export interface ReconcileResult {
  /** Reconcile the key again after this long (time-based conditions such as staleness). */
  requeueAfterMs?: number;
}

/** An error that retrying cannot fix: logged, not retried until the object changes. */
export class TerminalError extends Error {}

export type ReconcileOutcome = "success" | "error" | "terminal";

export interface ReconcileContext {
  log: Logger;
  reconcileId: string;
}

export interface Reconciler {
  readonly name: string;
  reconcile(key: string, context: ReconcileContext): Promise<ReconcileResult>;
}

export interface ControllerOptions {
  log: Logger;
  workers?: number;
  /** Every key from `allKeys` is queued this often, so drift gets repaired without events. */
  resyncMs?: number;
  allKeys?: () => string[];
}

/**
 * Runs a reconciler over `ns/name` keys: level-based (the key, never the event payload), one run per
 * key at a time, exponential backoff on errors, `requeueAfterMs`, terminal errors, periodic resync.
 */
export class Controller {
  readonly queue = new WorkQueue();
  private readonly reconciler: Reconciler;
  private readonly options: ControllerOptions;
  private readonly log: Logger;
  private workers: Promise<void>[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly listeners: ((key: string, outcome: ReconcileOutcome, ms: number) => void)[] = [];

  constructor(reconciler: Reconciler, options: ControllerOptions) {
    this.reconciler = reconciler;
    this.options = options;
    this.log = options.log.child({ controller: reconciler.name });
  }

  /** The reconciler's name (log and metric label). */
  get name(): string {
    return this.reconciler.name;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Observes each reconcile's outcome (metrics, tests). */
  onReconciled(listener: (key: string, outcome: ReconcileOutcome, ms: number) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    const workers = this.options.workers ?? 2;
    for (let i = 0; i < workers; i++) this.workers.push(this.runWorker());
    const { resyncMs, allKeys } = this.options;
    if (resyncMs !== undefined && allKeys !== undefined) {
      this.resyncTimer = setInterval(() => {
        for (const key of allKeys()) this.queue.add(key);
      }, resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** Stops taking keys and waits for running reconciles to finish. */
  async stop(): Promise<void> {
    if (this.resyncTimer !== undefined) clearInterval(this.resyncTimer);
    this.queue.shutdown();
    await Promise.all(this.workers);
    this.workers = [];
  }

  private async runWorker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileOnce(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileOnce(key: string): Promise<void> {
    const reconcileId = randomUUID();
    const log = this.log.child({ key, reconcileId });
    const started = performance.now();
    let outcome: ReconcileOutcome = "success";
    try {
      const result = await this.reconciler.reconcile(key, { log, reconcileId });
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
    } catch (error) {
      if (error instanceof TerminalError) {
        outcome = "terminal";
        this.queue.forget(key);
        log.error({ err: error }, "Reconcile failed terminally; not retrying");
      } else {
        outcome = "error";
        const delayMs = this.queue.addRateLimited(key);
        log.warn({ err: error, retryInMs: delayMs }, "Reconcile failed; retrying");
      }
    }
    const ms = performance.now() - started;
    for (const listener of this.listeners) listener(key, outcome, ms);
  }
}

export function objectKey(obj: { metadata?: { name?: string; namespace?: string } }): string {
  const metadata = obj.metadata;
  if (metadata === undefined) return "";
  // Cached objects are asked for their key on every reconcile of every other object (1,000s): keep it per metadata.
  const known = keys.get(metadata);
  if (known !== undefined && known.name === metadata.name && known.namespace === metadata.namespace)
    return known.key;
  const name = metadata.name ?? "";
  const namespace = metadata.namespace;
  const key = namespace === undefined || namespace === "" ? name : `${namespace}/${name}`;
  keys.set(metadata, { name: metadata.name, namespace, key });
  return key;
}

const keys = new WeakMap<object, { name: string | undefined; namespace: string | undefined; key: string }>();

export function splitKey(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf("/");
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
