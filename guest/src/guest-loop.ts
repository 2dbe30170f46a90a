/**
 * Keeps the guest looking at its ConfidentialVM: read it, then watch it (the server ends each watch after a minute,
 * and the guest reads the object again, so a lost event costs at most that). Every version seen goes to one worker
 * that handles the latest and skips versions superseded meanwhile; a failed answer is retried after a delay.
 */
import type { Logger } from "pino";
import type { ConfidentialVM } from "../../operator/src/api/v1alpha1/generated/types.ts";
import type { Guest } from "./guest.ts";
import { WatchExpiredError, type CvmApi } from "./kube/cvm-client.ts";

export interface GuestLoopOptions {
  /** First delay after a failed read/watch, doubled up to maxBackoffMs (default 2 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Delay before retrying a failed answer (default 2 s). */
  retryDelayMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export class GuestLoop {
  readonly #guest: Guest;
  readonly #api: CvmApi;
  readonly #log: Logger;
  readonly #options: Required<GuestLoopOptions>;
  #latest: ConfidentialVM | undefined;
  #lastSeen: ConfidentialVM | undefined;
  #worker: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;

  constructor(guest: Guest, api: CvmApi, log: Logger, options: GuestLoopOptions = {}) {
    this.#guest = guest;
    this.#api = api;
    this.#log = log;
    this.#options = {
      backoffMs: options.backoffMs ?? 2_000,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      retryDelayMs: options.retryDelayMs ?? 2_000,
    };
  }

  /** Runs until `signal` aborts, then lets an answer in progress finish. */
  async run(signal: AbortSignal): Promise<void> {
    let backoff = this.#options.backoffMs;
    // A function, not the property: the compiler would keep the loop condition's narrowing across awaits.
    const stopped = (): boolean => signal.aborted;
    while (!stopped()) {
      try {
        const cvm = await this.#api.get();
        this.#offer(cvm);
        backoff = this.#options.backoffMs;
        await this.#api.watch(
          cvm.metadata.resourceVersion ?? "",
          (event) => {
            if (event.type === "ADDED" || event.type === "MODIFIED") this.#offer(event.object);
            else if (event.type === "DELETED") this.#log.warn("The ConfidentialVM was deleted");
          },
          signal,
        );
      } catch (error) {
        if (stopped()) break;
        if (error instanceof WatchExpiredError) continue;
        this.#log.warn({ err: error, retryInMs: backoff }, "Cannot read or watch the ConfidentialVM");
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, this.#options.maxBackoffMs);
      }
    }
    clearTimeout(this.#retry);
    await this.#worker;
  }

  #offer(cvm: ConfidentialVM): void {
    this.#latest = cvm;
    this.#lastSeen = cvm;
    this.#worker ??= this.#drain().finally(() => {
      this.#worker = undefined;
    });
  }

  async #drain(): Promise<void> {
    while (this.#latest !== undefined) {
      const cvm = this.#latest;
      this.#latest = undefined;
      let failed: boolean;
      try {
        failed = (await this.#guest.handle(cvm)).error !== undefined;
      } catch (error) {
        this.#log.error({ err: error }, "Handling the ConfidentialVM failed");
        failed = true;
      }
      if (!failed) continue;
      // The guest counts attempts per nonce and stops retrying one that keeps failing.
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => {
        if (this.#lastSeen !== undefined) this.#offer(this.#lastSeen);
      }, this.#options.retryDelayMs);
    }
  }
}
