/**
 * A cache in front of any CollateralSource. An item is reused until its own `nextUpdate` (TCB info, QE identity,
 * CRLs), other items for `defaultTtlMs`; "not found" for `missTtlMs`; an item served already stale is asked
 * for again after `staleRetryMs`. Concurrent requests share one fetch. When a
 * refresh fails, the stale item is served: verification then reports it as expired rather than missing.
 */
import type { CollateralSource } from "../types.ts";
import { BoundedMap } from "../bounded-map.ts";
import { collateralNextUpdate } from "./next-update.ts";

export interface CachingSourceOptions {
  now?: () => number;
  defaultTtlMs?: number;
  missTtlMs?: number;
  /** How soon to ask again when the source hands out an item already past its nextUpdate. */
  staleRetryMs?: number;
  maxEntries?: number;
}

interface Entry {
  value: Uint8Array | undefined;
  expiresAt: number;
}

export function createCachingSource(
  inner: CollateralSource,
  options: CachingSourceOptions = {},
): CollateralSource {
  const now = options.now ?? Date.now;
  const defaultTtlMs = options.defaultTtlMs ?? 24 * 3600_000;
  const missTtlMs = options.missTtlMs ?? 5 * 60_000;
  const staleRetryMs = options.staleRetryMs ?? 5 * 60_000;
  const entries = new BoundedMap<string, Entry>(options.maxEntries ?? 1024);
  const pending = new Map<string, Promise<Uint8Array | undefined>>();

  function expiry(value: Uint8Array | undefined, at: number): number {
    if (value === undefined) return at + missTtlMs;
    const nextUpdate = collateralNextUpdate(value)?.getTime();
    if (nextUpdate === undefined) return at + defaultTtlMs;
    return nextUpdate > at ? nextUpdate : at + staleRetryMs;
  }

  async function refresh(cacheKey: string, kind: string, key: string): Promise<Uint8Array | undefined> {
    const stale = entries.get(cacheKey);
    try {
      const value = await inner.get(kind, key);
      entries.set(cacheKey, { value, expiresAt: expiry(value, now()) });
      return value;
    } catch (error) {
      if (stale?.value !== undefined) return stale.value;
      throw error;
    } finally {
      pending.delete(cacheKey);
    }
  }

  return {
    get(kind: string, key: string): Promise<Uint8Array | undefined> {
      const cacheKey = `${kind}\u0000${key}`;
      const entry = entries.get(cacheKey);
      if (entry !== undefined && now() < entry.expiresAt) return Promise.resolve(entry.value);
      let request = pending.get(cacheKey);
      if (request === undefined) {
        request = refresh(cacheKey, kind, key);
        pending.set(cacheKey, request);
      }
      return request;
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
