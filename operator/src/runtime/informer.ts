import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
} from "@kubernetes/client-node";
import type { Logger } from "pino";

export type ResourceEvent = "add" | "update" | "delete";

export interface ResourceWatchOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  /** Watch path, e.g. /api/v1/nodes or /apis/trustgate.io/v1alpha1/confidentialhosts. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  log: Logger;
  onEvent: (event: ResourceEvent, obj: T) => void;
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

/**
 * A list+watch cache (client-node's ListWatch: relists on 410 and reconnects on clean closes) that
 * also restarts itself with backoff after errors, which ListWatch leaves to its caller.
 */
export class ResourceWatch<T extends KubernetesObject> {
  private readonly informer;
  private readonly options: ResourceWatchOptions<T>;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelayMs = 500;
  private stopped = false;
  private readonly connected: Promise<void>;
  private resolveConnected: () => void = () => undefined;

  constructor(options: ResourceWatchOptions<T>) {
    this.options = options;
    this.connected = new Promise((resolve) => (this.resolveConnected = resolve));
    // ListWatch announces "connect" before it lists, so the first successful list marks the cache synced;
    // setImmediate lets ListWatch store the listed items first.
    const list = async (): Promise<KubernetesListObject<T>> => {
      const result = await options.list();
      for (const item of result.items) this.trim(item);
      setImmediate(() => {
        this.resolveConnected();
      });
      return result;
    };
    this.informer = makeInformer<T>(options.kc, options.path, list, options.labelSelector);
    this.informer.on("add", (obj) => {
      this.trim(obj);
      options.onEvent("add", obj);
    });
    this.informer.on("update", (obj) => {
      this.trim(obj);
      options.onEvent("update", obj);
    });
    this.informer.on("delete", (obj) => {
      options.onEvent("delete", obj);
    });
    this.informer.on("connect", () => {
      this.restartDelayMs = 500;
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

  private scheduleRestart(error: unknown): void {
    if (this.stopped || this.restartTimer !== undefined) return;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, this.options.maxRestartDelayMs ?? 30_000);
    this.options.log.warn(
      { err: error, path: this.options.path, delayMs: delay },
      "Watch failed; restarting",
    );
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
}
