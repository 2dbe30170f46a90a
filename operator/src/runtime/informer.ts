import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { messageWithCause } from "../http/network-failure.ts";
import { apiErrorStatus } from "../kube/api-error.ts";

export type ResourceEvent = "add" | "update" | "delete";

/**
 * Where a watch stands: `syncing` until its first successful list, `synced` once a list succeeded (the cache stays
 * usable through later watch errors), `absent` while the API server answers its list with 404: the resource is not
 * served (its CRD is not installed).
 */
export type WatchState = "syncing" | "synced" | "absent";

export interface ResourceWatchOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  /** Watch path, e.g. /api/v1/nodes or /apis/trustgate.io/v1alpha1/confidentialhosts. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  log: Logger;
  onEvent: (event: ResourceEvent, obj: T) => void;
  /** Called when the state changes (not for the initial `syncing`). */
  onStateChange?: (state: WatchState) => void;
  /** Whether a 404 on list is logged here (default) or left to the caller, who reports `absent` its own way. */
  logAbsent?: boolean;
  minRestartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** Removes, in place, what no reconciler reads, before the object is cached and handed to onEvent. */
  trim?: (obj: T) => void;
  /** Watch only objects with these labels (the list function must apply the same selector). */
  labelSelector?: string;
}

/**
 * Cached objects are the ones handed to event callbacks, so dropping managedFields here keeps them out
 * of the cache (client-go's transform): nothing reconciles on them and they are most of each object's size.
 */
function dropManagedFields(obj: KubernetesObject): void {
  if (obj.metadata !== undefined) delete obj.metadata.managedFields;
}

/** What a failed list or watch is, in a log line's fields: an API status, or an error message (no stack). */
function describeFailure(error: unknown): { status?: number; error: string } {
  const status = apiErrorStatus(error);
  if (status !== undefined) return { status: status.code, error: status.message };
  return { error: messageWithCause(error) };
}

/**
 * The longest wait between relists after failures. One replica's dozen watches relisting every 8 s cost an API server
 * nothing, and after an outage the caches are back within 8 s of the API server (docs/faults.md). With 30 s (as
 * client-go's reflectors), a controller at 1,000 CVMs resumed 18 s after a restarted API server was ready.
 */
export const MAX_RESTART_DELAY_MS = 8_000;

/**
 * A list+watch cache (client-node's ListWatch: relists on 410 and reconnects on clean closes) that
 * also restarts itself with backoff after errors, which ListWatch leaves to its caller.
 *
 * The backoff doubles from minRestartDelayMs to maxRestartDelayMs and is reset only by a successful list or a
 * watch event, never by ListWatch's "connect" (announced before every list, also the ones that fail). Only the
 * first failure of a run is logged at warn; retries are logged at debug and the recovery at info.
 */
export class ResourceWatch<T extends KubernetesObject> {
  private readonly informer;
  private readonly options: ResourceWatchOptions<T>;
  private readonly minDelayMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelayMs: number;
  private failures = 0;
  private stopped = false;
  private currentState: WatchState = "syncing";
  private readonly connected: Promise<void>;
  private resolveConnected: () => void = () => undefined;
  private readonly settledPromise: Promise<void>;
  private resolveSettled: () => void = () => undefined;

  constructor(options: ResourceWatchOptions<T>) {
    this.options = options;
    this.minDelayMs = options.minRestartDelayMs ?? 500;
    this.restartDelayMs = this.minDelayMs;
    this.connected = new Promise((resolve) => (this.resolveConnected = resolve));
    this.settledPromise = new Promise((resolve) => (this.resolveSettled = resolve));
    // The first successful list marks the cache synced; setImmediate lets ListWatch store the listed items first.
    const list = async (): Promise<KubernetesListObject<T>> => {
      let result: KubernetesListObject<T>;
      try {
        result = await options.list();
      } catch (error) {
        if (apiErrorStatus(error)?.code === 404) this.setState("absent");
        else if (this.currentState === "absent") this.setState("syncing");
        throw error;
      }
      for (const item of result.items) this.trim(item);
      this.recovered();
      setImmediate(() => {
        this.setState("synced");
        this.resolveConnected();
      });
      return result;
    };
    this.informer = makeInformer<T>(options.kc, options.path, list, options.labelSelector);
    this.informer.on("add", (obj) => {
      this.recovered();
      this.trim(obj);
      options.onEvent("add", obj);
    });
    this.informer.on("update", (obj) => {
      this.recovered();
      this.trim(obj);
      options.onEvent("update", obj);
    });
    this.informer.on("delete", (obj) => {
      this.recovered();
      options.onEvent("delete", obj);
    });
    this.informer.on("error", (error: unknown) => {
      this.scheduleRestart(error);
    });
  }

  private trim(obj: T): void {
    dropManagedFields(obj);
    this.options.trim?.(obj);
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.informer.start();
    } catch (error) {
      this.scheduleRestart(error);
    }
  }

  /** Resolves once the first successful list has filled the cache. */
  synced(): Promise<void> {
    return this.connected;
  }

  /** Resolves once the cache is synced or the API server said the resource does not exist, whichever is first. */
  settled(): Promise<void> {
    return this.settledPromise;
  }

  state(): WatchState {
    return this.currentState;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  private setState(state: WatchState): void {
    if (state !== "syncing") this.resolveSettled();
    if (state === this.currentState) return;
    this.currentState = state;
    this.options.onStateChange?.(state);
  }

  /** A list succeeded or the watch delivered an event: the next failure starts a new run at the minimum delay. */
  private recovered(): void {
    if (this.failures > 0)
      this.options.log.info({ path: this.options.path, failures: this.failures }, "Watch recovered");
    this.failures = 0;
    this.restartDelayMs = this.minDelayMs;
  }

  private scheduleRestart(error: unknown): void {
    if (this.stopped || this.restartTimer !== undefined) return;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(
      this.restartDelayMs * 2,
      this.options.maxRestartDelayMs ?? MAX_RESTART_DELAY_MS,
    );
    this.failures++;
    this.logFailure(error, delay);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      void this.informer
        .stop()
        .then(() => this.informer.start())
        .catch((restartError: unknown) => {
          this.scheduleRestart(restartError);
        });
    }, delay);
  }

  private logFailure(error: unknown, delayMs: number): void {
    const { log, path } = this.options;
    const fields = { path, delayMs, failures: this.failures, ...describeFailure(error) };
    if (this.failures > 1) {
      log.debug({ ...fields, err: error }, "Watch failed again; retrying");
      return;
    }
    if (this.currentState === "absent") {
      if (this.options.logAbsent ?? true)
        log.warn(fields, "Resource not served (is its CRD installed?); retrying with backoff");
      return;
    }
    log.warn(fields, "Watch failed; retrying with backoff (further failures are logged at debug)");
  }
}
