import { expect } from "chai";
import { Registry } from "prom-client";
import { createCachingSource } from "../attestation/collateral/caching-source.ts";
import { CollateralMetrics } from "./collateral-metrics.ts";

const NEXT_UPDATE = "2025-07-19T10:16:03Z";
const body = new TextEncoder().encode(`{"tcbInfo":{"nextUpdate":"${NEXT_UPDATE}"},"signature":"00"}`);

describe("collateral metrics", () => {
  it("counts lookups and requests, and reports the oldest item's age and the soonest nextUpdate", async () => {
    const registry = new Registry();
    const now = Date.parse("2025-07-01T00:00:00Z");
    let clock = now;
    const metrics = new CollateralMetrics(registry, () => clock);
    const cache = createCachingSource(
      { get: () => Promise.resolve(body) },
      {
        now: () => clock,
        onLookup: (kind, outcome) => {
          metrics.lookup(kind, outcome);
        },
      },
    );
    metrics.track(cache);
    await cache.get("tdx-tcb-info", "b0c06f000000");
    await cache.get("tdx-tcb-info", "b0c06f000000");
    metrics.request("intel-pcs", "ok", 0.2);
    metrics.request("amd-kds", "http-error", 1.5);
    clock = now + 90_000;

    const text = await registry.metrics();
    expect(text).to.include('trustgate_collateral_cache_lookups_total{kind="tdx-tcb-info",outcome="miss"} 1');
    expect(text).to.include('trustgate_collateral_cache_lookups_total{kind="tdx-tcb-info",outcome="hit"} 1');
    expect(text).to.include('trustgate_collateral_requests_total{service="amd-kds",outcome="http-error"} 1');
    expect(text).to.include('trustgate_collateral_request_duration_seconds_count{service="intel-pcs"} 1');
    expect(text).to.include("trustgate_collateral_oldest_age_seconds 90");
    expect(text).to.include(
      `trustgate_collateral_next_update_timestamp_seconds ${String(Date.parse(NEXT_UPDATE) / 1000)}`,
    );
    expect(text).to.include("trustgate_collateral_cached_items 1");
  });
});
