/**
 * Metrics of the collateral path: cache lookups by kind and outcome, requests to each service by outcome and
 * their latency, and the age of what the cache holds. Labels are bounded: kinds and services are fixed sets.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { CacheOutcome, CachingSource } from "../attestation/collateral/caching-source.ts";

export class CollateralMetrics {
  private readonly lookups: Counter<"kind" | "outcome">;
  private readonly requests: Counter<"service" | "outcome">;
  private readonly requestDuration: Histogram<"service">;
  private readonly caches: CachingSource[] = [];

  constructor(registry: Registry, now: () => number = Date.now) {
    const registers = [registry];
    this.lookups = new Counter({
      name: "trustgate_collateral_cache_lookups_total",
      help: "Collateral cache lookups by kind and outcome (hit, stored: read back from the cache directory, miss: fetched, stale: served past nextUpdate because the service failed, refresh-ahead).",
      labelNames: ["kind", "outcome"],
      registers,
    });
    this.requests = new Counter({
      name: "trustgate_collateral_requests_total",
      help: "Requests to the attestation services (intel-pcs, amd-kds, nvidia-rim, nvidia-ocsp, nvidia-nras) by outcome.",
      labelNames: ["service", "outcome"],
      registers,
    });
    this.requestDuration = new Histogram({
      name: "trustgate_collateral_request_duration_seconds",
      help: "Latency of requests to the attestation services, retries included.",
      labelNames: ["service"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const caches = this.caches;
    const oldest = (): number | undefined => {
      const times = caches.map((c) => c.snapshot().oldestFetchedAt).filter((t) => t !== undefined);
      return times.length === 0 ? undefined : Math.min(...times);
    };
    new Gauge({
      name: "trustgate_collateral_oldest_age_seconds",
      help: "Age of the oldest collateral item the operator holds (since it was fetched).",
      registers,
      collect() {
        const at = oldest();
        this.set(at === undefined ? 0 : Math.max(0, (now() - at) / 1000));
      },
    });
    new Gauge({
      name: "trustgate_collateral_next_update_timestamp_seconds",
      help: "The soonest nextUpdate of the collateral the operator holds (Unix seconds; 0 when none is dated).",
      registers,
      collect() {
        const soonest = caches
          .map((c) => c.snapshot().soonestStaleAt)
          .filter((t) => t !== undefined)
          .reduce<number | undefined>((min, t) => (min === undefined || t < min ? t : min), undefined);
        this.set(soonest === undefined ? 0 : soonest / 1000);
      },
    });
    new Gauge({
      name: "trustgate_collateral_cached_items",
      help: "Collateral items held in memory.",
      registers,
      collect() {
        this.set(caches.reduce((sum, c) => sum + c.snapshot().entries, 0));
      },
    });
  }

  lookup(kind: string, outcome: CacheOutcome): void {
    this.lookups.inc({ kind, outcome });
  }

  request(service: string, outcome: string, seconds: number): void {
    this.requests.inc({ service, outcome });
    this.requestDuration.observe({ service }, seconds);
  }

  track(cache: CachingSource): void {
    this.caches.push(cache);
  }
}
