import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { isConflict, isNotFound } from "../kube/api-error.ts";
import { claimedLeaseSpec, decideLeaseAction, releasedLeaseSpec } from "./lease-decision.ts";

export type LeaseApi = Pick<
  CoordinationV1Api,
  "readNamespacedLease" | "createNamespacedLease" | "replaceNamespacedLease"
>;

export interface LeaderElectorOptions {
  leases: LeaseApi;
  namespace: string;
  /** The Lease's name, shared by all candidates. */
  name: string;
  /** Unique per process: see leaderIdentity(). */
  identity: string;
  log: Logger;
  /** How long others wait after the last renewal before taking over (default 15 s). */
  leaseDurationMs?: number;
  /** The leader gives up when it has not renewed for this long (default 10 s). */
  renewDeadlineMs?: number;
  /** Interval between attempts to acquire or renew (default 2 s). */
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  /** Leadership was lost: stop reconciling now (exit). Not called after release(). */
  onStoppedLeading: () => void;
  now?: () => Date;
}

export type LeaderState = "standby" | "leading" | "stopped";

type Attempt = "held" | "taken" | "failed" | "timeout";

export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;

/** The pod name plus a random suffix, so a restarted pod never mistakes its predecessor's Lease for its own. */
export function leaderIdentity(podName: string = hostname()): string {
  return `${podName}_${randomBytes(4).toString("hex")}`;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease (client-go semantics). Every write carries the
 * resourceVersion that was read, so when candidates race only one write succeeds.
 */
export class LeaderElector {
  readonly identity: string;
  private readonly options: LeaderElectorOptions;
  private readonly log: Logger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => Date;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private currentState: LeaderState = "standby";
  private renewedAtMs = 0;
  private observedHolder: string | undefined;

  constructor(options: LeaderElectorOptions) {
    this.options = options;
    this.identity = options.identity;
    this.leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    this.now = options.now ?? (() => new Date());
    this.log = options.log.child({ lease: `${options.namespace}/${options.name}`, identity: this.identity });
    if (this.leaseDurationMs < 1000)
      throw new Error("leader election: the lease duration must be at least 1s");
    if (this.renewDeadlineMs >= this.leaseDurationMs) {
      throw new Error("leader election: the renew deadline must be shorter than the lease duration");
    }
    if (this.retryPeriodMs <= 0 || this.retryPeriodMs >= this.renewDeadlineMs) {
      throw new Error(
        "leader election: the retry period must be positive and shorter than the renew deadline",
      );
    }
  }

  get state(): LeaderState {
    return this.currentState;
  }

  isLeader(): boolean {
    return this.currentState === "leading";
  }

  /** Waits for the Lease, leads until leadership is lost or release() is called, then resolves. */
  run(): Promise<void> {
    this.running ??= this.lead();
    return this.running;
  }

  /** Stops campaigning; a leader hands the Lease back so a standby takes over at its next retry. */
  async release(): Promise<void> {
    this.stopping.abort();
    // A request hanging on a dead API server must not hold up shutdown; the Lease then just expires.
    await within(this.running ?? Promise.resolve(), this.renewDeadlineMs, undefined);
    const wasLeading = this.currentState === "leading";
    this.currentState = "stopped";
    if (wasLeading) await within(this.giveUpLease(), this.renewDeadlineMs, undefined);
  }

  private async lead(): Promise<void> {
    if (!(await this.acquire())) return;
    this.currentState = "leading";
    // Acquired while release() was waiting: release() hands the Lease straight back.
    if (this.released()) return;
    this.log.info("Acquired Lease; started leading");
    this.options.onStartedLeading();
    if ((await this.renewUntilLost()) && !this.released()) {
      this.currentState = "stopped";
      this.options.onStoppedLeading();
    }
  }

  /** True once the Lease is ours; false when released first. */
  private async acquire(): Promise<boolean> {
    while (!this.released()) {
      if ((await this.attempt(false)) === "held") return true;
      // Up to 20 % jitter keeps candidates that started together from retrying in lockstep.
      await this.sleep(this.retryPeriodMs * (1 + Math.random() * 0.2));
    }
    return false;
  }

  /** Renews every retry period; true when leadership is lost, false when released. */
  private async renewUntilLost(): Promise<boolean> {
    for (;;) {
      await this.sleep(this.retryPeriodMs);
      if (this.released()) return false;
      const remainingMs = this.renewedAtMs + this.renewDeadlineMs - this.now().getTime();
      // A hung request must not keep us leading past the deadline.
      const outcome = remainingMs > 0 ? await within(this.attempt(true), remainingMs, "timeout") : "timeout";
      if (outcome === "held") continue;
      if (outcome === "taken") {
        this.log.warn({ holder: this.observedHolder }, "Lease no longer held; stopped leading");
        return true;
      }
      if (this.now().getTime() - this.renewedAtMs >= this.renewDeadlineMs) {
        this.log.error(
          { renewDeadlineMs: this.renewDeadlineMs },
          "Lease not renewed in time; stopped leading",
        );
        return true;
      }
    }
  }

  /** One read plus, when the decision allows it, one create or replace. */
  private async attempt(leading: boolean): Promise<Attempt> {
    const { namespace, name } = this.options;
    const now = this.now();
    let lease: V1Lease | undefined;
    try {
      lease = await this.options.leases.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) {
        this.log.warn({ err: error }, "Lease not read");
        return "failed";
      }
    }
    const decision = decideLeaseAction(lease?.spec, lease !== undefined, this.identity, now);
    if (decision.action === "wait") {
      this.observeHolder(decision.holder);
      return "taken";
    }
    if (leading && decision.action !== "renew") {
      this.observedHolder = lease?.spec?.holderIdentity;
      return "taken";
    }
    const spec = claimedLeaseSpec(lease?.spec, this.identity, Math.ceil(this.leaseDurationMs / 1000), now);
    try {
      if (lease === undefined) {
        await this.options.leases.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec },
        });
      } else {
        await this.options.leases.replaceNamespacedLease({
          name,
          namespace,
          body: { metadata: lease.metadata, spec },
        });
      }
      this.renewedAtMs = now.getTime();
      return "held";
    } catch (error) {
      if (isConflict(error)) this.log.debug("Lease changed while claiming it; retrying");
      else this.log.warn({ err: error }, "Lease not written");
      return "failed";
    }
  }

  private async giveUpLease(): Promise<void> {
    const { namespace, name } = this.options;
    try {
      const lease = await this.options.leases.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== this.identity) return;
      const spec = releasedLeaseSpec(lease.spec, this.now());
      await this.options.leases.replaceNamespacedLease({
        name,
        namespace,
        body: { metadata: lease.metadata, spec },
      });
      this.log.info("Released Lease");
    } catch (error) {
      this.log.warn({ err: error }, "Lease not released; it expires on its own");
    }
  }

  private observeHolder(holder: string): void {
    if (holder === this.observedHolder) return;
    this.observedHolder = holder;
    this.log.info({ holder }, "Observed another leader; standing by");
  }

  private released(): boolean {
    return this.stopping.signal.aborted;
  }

  private async sleep(ms: number): Promise<void> {
    await delay(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }
}

/** The promise's value, or `fallback` once `ms` have passed (the promise keeps running). */
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<T>((resolve) => {
    timer = setTimeout(() => {
      resolve(fallback);
    }, ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
