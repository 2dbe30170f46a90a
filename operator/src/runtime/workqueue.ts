/**
 * A rate-limited work queue of keys (controller-runtime semantics): a key waits in the queue at most
 * once, is never processed by two workers at the same time, and a key added while it is being
 * processed runs again after the current run.
 */
export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Hooks for controller-runtime-style workqueue metrics (adds, retries, time spent queued). */
export interface WorkQueueObserver {
  added(): void;
  retried(): void;
  dequeued(waitedSeconds: number): void;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseDelayMs: 50, maxDelayMs: 300_000 };

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  /** Pending delayed adds: one per key, the earliest deadline. */
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; dueAt: number }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly queuedAt = new Map<string, number>();
  private observer: WorkQueueObserver | undefined;
  private shuttingDown = false;
  private readonly backoff: BackoffOptions;

  constructor(backoff: BackoffOptions = DEFAULT_BACKOFF) {
    this.backoff = backoff;
  }

  observe(observer: WorkQueueObserver): void {
    this.observer = observer;
  }

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.observer?.added();
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      this.processing.add(key);
      this.observer?.dequeued(0);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
    this.queuedAt.set(key, performance.now());
  }

  /**
   * Adds the key after a delay. Of two pending delays for one key the earlier deadline wins, whichever came first:
   * a failed reconcile's 50 ms retry must not wait out a requeue set minutes earlier.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const dueAt = performance.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing !== undefined) {
      if (existing.dueAt <= dueAt) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { timer, dueAt });
  }

  /** Adds the key after an exponential backoff that grows with each consecutive failure. */
  addRateLimited(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    this.observer?.retried();
    const delay = Math.min(this.backoff.baseDelayMs * 2 ** failures, this.backoff.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count (after a successful reconcile). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      const since = this.queuedAt.get(key);
      this.queuedAt.delete(key);
      if (since !== undefined) this.observer?.dequeued((performance.now() - since) / 1000);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks a key processed; a key added meanwhile is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
