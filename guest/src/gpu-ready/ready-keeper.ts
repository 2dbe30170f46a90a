/**
 * Keeps the GPUs' CC ready state where decideReadiness says, for every version of the CVM the guest sees and at the
 * expiry of the result the GPUs are held ready on (a timer: nothing changes on the CVM when a result expires).
 * Evaluations run one at a time; a driver that refuses READY (a reset before, or no CAP_SYS_ADMIN) is logged once
 * per result, not retried on every event. It never throws: a failure is logged and the GPUs stay as they are.
 */
import type { Logger } from "pino";
import type { ConfidentialVM } from "../../../operator/src/api/v1alpha1/generated/types.ts";
import { verifyResultToken, type OperatorTrust, type OwnAnswer } from "../operator-trust.ts";
import type { GpuReadySwitch } from "../providers/types.ts";
import { decideReadiness, type DriverReadyState, type ReadyBacking } from "./ready-decision.ts";

export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (callback, ms) => setTimeout(callback, ms).unref(),
  clear: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** setTimeout's limit; a later expiry is re-armed when this fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface GpuReadyKeeperDeps {
  readySwitch: GpuReadySwitch;
  trust: OperatorTrust;
  log: Logger;
  now?: () => Date;
  timers?: Timers;
}

export class GpuReadyKeeper {
  readonly #deps: GpuReadyKeeperDeps;
  readonly #timers: Timers;
  #backing: ReadyBacking | undefined;
  #last: { cvm: ConfidentialVM; own: OwnAnswer | undefined } | undefined;
  #timer: unknown;
  #queue: Promise<void> = Promise.resolve();
  /** The challenge of the result whose READY the driver refused. */
  #refused: string | undefined;
  #state: DriverReadyState = "unknown";
  #lastReason = "";
  #closed = false;

  constructor(deps: GpuReadyKeeperDeps) {
    this.#deps = deps;
    this.#timers = deps.timers ?? realTimers;
  }

  /** The ready state the driver reported or the keeper set last. */
  get state(): DriverReadyState {
    return this.#state;
  }

  /** Evaluates `cvm` as seen with the guest's last answer `own`; resolves once done. */
  observe(cvm: ConfidentialVM, own: OwnAnswer | undefined): Promise<void> {
    this.#last = { cvm, own };
    return this.#enqueue();
  }

  /** Resolves when the evaluations queued so far (events and expiry timers) are done. */
  settled(): Promise<void> {
    return this.#queue;
  }

  close(): void {
    this.#closed = true;
    this.#timers.clear(this.#timer);
  }

  #enqueue(): Promise<void> {
    this.#queue = this.#queue.then(() => this.#evaluate());
    return this.#queue;
  }

  async #evaluate(): Promise<void> {
    const last = this.#last;
    if (last === undefined || this.#closed) return;
    const now = this.#deps.now?.() ?? new Date();
    try {
      const driver = await this.#read();
      const attestation = last.cvm.status?.attestation;
      const decision = decideReadiness({
        nowMs: now.getTime(),
        driver,
        ...(this.#backing === undefined ? {} : { backing: this.#backing }),
        ...(last.own === undefined ? {} : { own: last.own }),
        token: await verifyResultToken(attestation?.token, this.#deps.trust, now),
        ...(attestation === undefined ? {} : { reported: attestation }),
      });
      if (decision.action === "set-ready") await this.#setReady(decision.backing, decision.reason);
      else if (decision.action === "set-not-ready") await this.#setNotReady(decision.reason);
      else this.#keep(decision.backing, decision.reason);
    } catch (error) {
      this.#deps.log.error({ err: error }, "Could not evaluate the GPUs' ready state");
    }
    this.#arm(now);
  }

  async #read(): Promise<DriverReadyState> {
    try {
      this.#state = (await this.#deps.readySwitch.get()) ? "ready" : "not-ready";
    } catch (error) {
      this.#deps.log.warn({ err: error }, "Cannot read the GPUs' ready state");
      this.#state = "unknown";
    }
    return this.#state;
  }

  #keep(backing: ReadyBacking | undefined, reason: string): void {
    this.#backing = backing;
    if (reason === this.#lastReason) return;
    this.#lastReason = reason;
    this.#deps.log.debug({ state: this.#state, reason }, "The GPUs' ready state stays as it is");
  }

  async #setReady(backing: ReadyBacking, reason: string): Promise<void> {
    this.#backing = backing;
    if (this.#refused === backing.nonce) return;
    try {
      await this.#deps.readySwitch.set(true);
      this.#state = "ready";
      this.#deps.log.info(
        { challenge: backing.nonce, until: new Date(backing.expiresAtMs).toISOString(), reason },
        "Set the GPUs ready: CUDA work is accepted",
      );
    } catch (error) {
      this.#refused = backing.nonce;
      this.#deps.log.error(
        { err: error, challenge: backing.nonce },
        "The driver refused to set the GPUs ready (a reset before this boot's attestation is final until the CVM reboots)",
      );
    }
  }

  async #setNotReady(reason: string): Promise<void> {
    this.#backing = undefined;
    try {
      await this.#deps.readySwitch.set(false);
      this.#state = "not-ready";
      this.#deps.log.warn(
        { reason },
        "Set the GPUs not ready: the driver refuses CUDA work until the CVM reboots",
      );
    } catch (error) {
      this.#deps.log.error({ err: error, reason }, "Could not set the GPUs not ready");
    }
  }

  #arm(now: Date): void {
    this.#timers.clear(this.#timer);
    this.#timer = undefined;
    if (this.#backing === undefined || this.#closed) return;
    const delay = Math.min(Math.max(this.#backing.expiresAtMs - now.getTime(), 0), MAX_TIMER_MS);
    this.#timer = this.#timers.set(() => {
      void this.#enqueue();
    }, delay);
  }
}
