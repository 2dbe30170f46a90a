/**
 * A cache in front of any CollateralSource. An item is reused until its own `nextUpdate` (TCB info, QE identity,
 * CRLs; refreshed in the background `refreshAheadMs` before that), immutable kinds (a VCEK for one chip and TCB)
 * forever, other items for `defaultTtlMs`; "not found" for `missTtlMs`. Concurrent requests share one fetch.
 * With a `store`, items survive restarts: a restarted controller appraises from what it fetched before. When a
 * refresh fails, a stale item is served only within `staleGraceMs` past its nextUpdate (verification then flags
 * it CollateralStale or CollateralExpired); beyond that the fetch error stands, naming its cause.
 */
import type { CollateralSource } from "../types.ts";
import { BoundedMap } from "../bounded-map.ts";
import type { CollateralStore } from "./collateral-store.ts";
import { collateralNextUpdate } from "./next-update.ts";

export type CacheOutcome = "hit" | "miss" | "stored" | "stale" | "refresh-ahead";

export interface CachingSourceOptions {
  now?: () => number;
  defaultTtlMs?: number;
  missTtlMs?: number;
  /** How soon to ask again when the source hands out an item already past its nextUpdate. */
  staleRetryMs?: number;
  /** How long past its nextUpdate a cached item is still served when the source fails (default: unbounded). */
  staleGraceMs?: number;
  /** Refresh an item this long before its nextUpdate, serving the cached one meanwhile (default 0). */
  refreshAheadMs?: number;
  /** Kinds whose items never change for a key (e.g. a VCEK for a chip and TCB). */
  immutableKinds?: readonly string[];
  maxEntries?: number;
  /** Persists items across restarts. */
  store?: CollateralStore;
  /** Told how each lookup was answered (metrics). */
  onLookup?: (kind: string, outcome: CacheOutcome) => void;
}

interface Entry {
  value: Uint8Array | undefined;
  fetchedAt: number;
  /** Serve without asking until then. */
  freshUntil: number;
  /** When the item itself goes stale (its nextUpdate), or Infinity. */
  staleAt: number;
}

/** What a cache holds right now, for metrics: the oldest item and the soonest nextUpdate. */
export interface CacheSnapshot {
  entries: number;
  oldestFetchedAt?: number;
  soonestStaleAt?: number;
}

export interface CachingSource extends CollateralSource {
  snapshot(): CacheSnapshot;
}

export function createCachingSource(
  inner: CollateralSource,
  options: CachingSourceOptions = {},
): CachingSource {
  const now = options.now ?? Date.now;
  const defaultTtlMs = options.defaultTtlMs ?? 24 * 3600_000;
  const missTtlMs = options.missTtlMs ?? 5 * 60_000;
  const staleRetryMs = options.staleRetryMs ?? 5 * 60_000;
  const staleGraceMs = options.staleGraceMs ?? Infinity;
  const refreshAheadMs = options.refreshAheadMs ?? 0;
  const immutable = new Set(options.immutableKinds ?? []);
  const entries = new BoundedMap<string, Entry>(options.maxEntries ?? 1024);
  const pending = new Map<string, Promise<Uint8Array | undefined>>();
  const onLookup = options.onLookup ?? ((): void => undefined);

  function entryFor(kind: string, value: Uint8Array | undefined, fetchedAt: number, at: number): Entry {
    if (value === undefined) return { value, fetchedAt, freshUntil: at + missTtlMs, staleAt: at + missTtlMs };
    if (immutable.has(kind)) return { value, fetchedAt, freshUntil: Infinity, staleAt: Infinity };
    const nextUpdate = collateralNextUpdate(value)?.getTime();
    if (nextUpdate === undefined) {
      return { value, fetchedAt, freshUntil: fetchedAt + defaultTtlMs, staleAt: Infinity };
    }
    if (nextUpdate <= at) return { value, fetchedAt, freshUntil: at + staleRetryMs, staleAt: nextUpdate };
    return { value, fetchedAt, freshUntil: Math.max(at, nextUpdate - refreshAheadMs), staleAt: nextUpdate };
  }

  function servableStale(entry: Entry | undefined): entry is Entry & { value: Uint8Array } {
    return entry?.value !== undefined && now() < entry.staleAt + staleGraceMs;
  }

  async function fromStore(kind: string, key: string): Promise<Entry | undefined> {
    const stored = await options.store?.load(kind, key).catch(() => undefined);
    return stored === undefined ? undefined : entryFor(kind, stored.value, stored.fetchedAt, now());
  }

  async function refresh(cacheKey: string, kind: string, key: string): Promise<Uint8Array | undefined> {
    try {
      let known = entries.get(cacheKey);
      if (known === undefined && options.store !== undefined) {
        known = await fromStore(kind, key);
        if (known !== undefined) {
          entries.set(cacheKey, known);
          if (now() < known.freshUntil && now() < known.staleAt) {
            onLookup(kind, "stored");
            return known.value;
          }
        }
      }
      onLookup(kind, "miss");
      try {
        const value = await inner.get(kind, key);
        const at = now();
        entries.set(cacheKey, entryFor(kind, value, at, at));
        if (value !== undefined) await options.store?.save(kind, key, value, at).catch(() => undefined);
        return value;
      } catch (error) {
        const stale = entries.get(cacheKey) ?? known;
        if (servableStale(stale)) {
          onLookup(kind, "stale");
          return stale.value;
        }
        throw error;
      }
    } finally {
      pending.delete(cacheKey);
    }
  }

  function fetchShared(cacheKey: string, kind: string, key: string): Promise<Uint8Array | undefined> {
    let request = pending.get(cacheKey);
    if (request === undefined) {
      request = refresh(cacheKey, kind, key);
      pending.set(cacheKey, request);
    }
    return request;
  }

  return {
    get(kind: string, key: string): Promise<Uint8Array | undefined> {
      const cacheKey = `${kind}\u0000${key}`;
      const entry = entries.get(cacheKey);
      const at = now();
      if (entry !== undefined && at < entry.freshUntil) {
        onLookup(kind, "hit");
        return Promise.resolve(entry.value);
      }
      if (entry?.value !== undefined && at < entry.staleAt) {
        // Refresh ahead of nextUpdate: the cached item is still valid, so it answers while the fetch runs.
        if (!pending.has(cacheKey)) {
          onLookup(kind, "refresh-ahead");
          fetchShared(cacheKey, kind, key).catch(() => undefined);
        }
        return Promise.resolve(entry.value);
      }
      return fetchShared(cacheKey, kind, key);
    },
    snapshot(): CacheSnapshot {
      let oldestFetchedAt: number | undefined;
      let soonestStaleAt: number | undefined;
      let count = 0;
      for (const entry of entries.values()) {
        if (entry.value === undefined) continue;
        count += 1;
        if (oldestFetchedAt === undefined || entry.fetchedAt < oldestFetchedAt)
          oldestFetchedAt = entry.fetchedAt;
        if (
          Number.isFinite(entry.staleAt) &&
          (soonestStaleAt === undefined || entry.staleAt < soonestStaleAt)
        )
          soonestStaleAt = entry.staleAt;
      }
      return {
        entries: count,
        ...(oldestFetchedAt === undefined ? {} : { oldestFetchedAt }),
        ...(soonestStaleAt === undefined ? {} : { soonestStaleAt }),
      };
    },
  };
}

/** Asks each source in turn; the first that has the item wins (e.g. offline directory, then PCS). */
export function firstAvailable(...sources: CollateralSource[]): CollateralSource {
  return {
    async get(kind: string, key: string): Promise<Uint8Array | undefined> {
      for (const source of sources) {
        const value = await source.get(kind, key);
        if (value !== undefined) return value;
      }
      return undefined;
    },
  };
}
