import { expect } from "chai";
import { join } from "node:path";
import { FIXTURE_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import { pcsItems } from "../../../test/fixtures/tdx/pcs-items.ts";
import { tdxTeeFromItem } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import type { CollateralSource } from "../types.ts";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createCachingSource, firstAvailable, type CacheOutcome } from "./caching-source.ts";
import { createDirectoryStore } from "./collateral-store.ts";
import { SGX_PCK_CRL, TDX_TCB_INFO, TDX_TCB_INFO_ISSUER_CHAIN } from "./kinds.ts";
import { collateralNextUpdate } from "./next-update.ts";

const items = pcsItems(tdxTeeFromItem(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4")), "b0c06f000000");
const bytesOf = (kind: string): Uint8Array =>
  items.find((item) => item.kind === kind)?.bytes ?? new Uint8Array();
const TCB_NEXT_UPDATE = Date.parse("2025-07-19T10:16:03Z");
const CRL_NEXT_UPDATE = Date.parse("2025-07-19T10:00:35Z");

function countingSource(answer: (kind: string) => Uint8Array | undefined | Error): {
  source: CollateralSource;
  calls: string[];
} {
  const calls: string[] = [];
  return {
    calls,
    source: {
      get(kind: string, key: string): Promise<Uint8Array | undefined> {
        calls.push(`${kind}/${key}`);
        const value = answer(kind);
        return value instanceof Error ? Promise.reject(value) : Promise.resolve(value);
      },
    },
  };
}

describe("createCachingSource", () => {
  it("reads nextUpdate from TCB info bodies, signed members and CRLs (DER or hex); nothing from chains", () => {
    expect(collateralNextUpdate(bytesOf(TDX_TCB_INFO))?.getTime()).to.equal(TCB_NEXT_UPDATE);
    expect(collateralNextUpdate(bytesOf(SGX_PCK_CRL))?.getTime()).to.equal(CRL_NEXT_UPDATE);
    const hex = new TextEncoder().encode(Buffer.from(bytesOf(SGX_PCK_CRL)).toString("hex"));
    expect(collateralNextUpdate(hex)?.getTime()).to.equal(CRL_NEXT_UPDATE);
    expect(collateralNextUpdate(bytesOf(TDX_TCB_INFO_ISSUER_CHAIN))).to.equal(undefined);
  });

  it("reuses an item until its own nextUpdate, then fetches it again", async () => {
    let now = Date.parse("2025-07-01T00:00:00Z");
    const inner = countingSource(bytesOf);
    const cache = createCachingSource(inner.source, { now: () => now });
    await cache.get(TDX_TCB_INFO, "b0c06f000000");
    now = TCB_NEXT_UPDATE - 1;
    await cache.get(TDX_TCB_INFO, "b0c06f000000");
    expect(inner.calls).to.have.length(1);
    now = TCB_NEXT_UPDATE;
    await cache.get(TDX_TCB_INFO, "b0c06f000000");
    expect(inner.calls).to.have.length(2);
  });

  it("keeps items without nextUpdate for the default TTL and misses for the miss TTL", async () => {
    let now = 0;
    const inner = countingSource((kind) => (kind === TDX_TCB_INFO_ISSUER_CHAIN ? bytesOf(kind) : undefined));
    const cache = createCachingSource(inner.source, { now: () => now, defaultTtlMs: 1000, missTtlMs: 100 });
    await cache.get(TDX_TCB_INFO_ISSUER_CHAIN, "x");
    expect(await cache.get(TDX_TCB_INFO, "absent")).to.equal(undefined);
    now = 99;
    await cache.get(TDX_TCB_INFO_ISSUER_CHAIN, "x");
    await cache.get(TDX_TCB_INFO, "absent");
    expect(inner.calls).to.have.length(2);
    now = 100;
    await cache.get(TDX_TCB_INFO, "absent");
    now = 1000;
    await cache.get(TDX_TCB_INFO_ISSUER_CHAIN, "x");
    expect(inner.calls).to.have.length(4);
  });

  it("shares one fetch between concurrent requests", async () => {
    const inner = countingSource(bytesOf);
    const cache = createCachingSource(inner.source);
    await Promise.all([1, 2, 3].map(() => cache.get(SGX_PCK_CRL, "platform")));
    expect(inner.calls).to.deep.equal([`${SGX_PCK_CRL}/platform`]);
  });

  it("serves the stale item when a refresh fails, and fails when it never had one", async () => {
    let now = Date.parse("2025-07-01T00:00:00Z");
    let down = false;
    const inner = countingSource((kind) => (down ? new Error("PCS down") : bytesOf(kind)));
    const cache = createCachingSource(inner.source, { now: () => now });
    const fresh = await cache.get(SGX_PCK_CRL, "platform");
    down = true;
    now = CRL_NEXT_UPDATE + 1;
    expect(await cache.get(SGX_PCK_CRL, "platform")).to.equal(fresh);
    const failure: unknown = await cache.get(TDX_TCB_INFO, "b0c06f000000").then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).to.be.instanceOf(Error);
  });

  it("firstAvailable asks each source in turn", async () => {
    const empty = countingSource(() => undefined);
    const full = countingSource(bytesOf);
    const source = firstAvailable(empty.source, full.source);
    expect(await source.get(SGX_PCK_CRL, "platform")).to.equal(bytesOf(SGX_PCK_CRL));
    expect([empty.calls.length, full.calls.length]).to.deep.equal([1, 1]);
  });

  it("serves a stale item only within the grace past its nextUpdate; beyond it the fetch error stands", async () => {
    let now = Date.parse("2025-07-01T00:00:00Z");
    let down = false;
    const inner = countingSource((kind) => (down ? new Error("PCS down: 503") : bytesOf(kind)));
    const outcomes: CacheOutcome[] = [];
    const cache = createCachingSource(inner.source, {
      now: () => now,
      staleGraceMs: 3600_000,
      onLookup: (_kind, outcome) => outcomes.push(outcome),
    });
    await cache.get(SGX_PCK_CRL, "platform");
    down = true;
    now = CRL_NEXT_UPDATE + 3600_000 - 1;
    expect(await cache.get(SGX_PCK_CRL, "platform")).to.equal(bytesOf(SGX_PCK_CRL));
    now = CRL_NEXT_UPDATE + 3600_000;
    const failure = await cache.get(SGX_PCK_CRL, "platform").then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure?.message).to.equal("PCS down: 503");
    expect(outcomes).to.deep.equal(["miss", "miss", "stale", "miss"]);
  });

  it("refreshes ahead of nextUpdate in the background, answering from the cache meanwhile", async () => {
    let now = Date.parse("2025-07-01T00:00:00Z");
    const inner = countingSource(bytesOf);
    const outcomes: CacheOutcome[] = [];
    const cache = createCachingSource(inner.source, {
      now: () => now,
      refreshAheadMs: 3600_000,
      onLookup: (_kind, outcome) => outcomes.push(outcome),
    });
    await cache.get(TDX_TCB_INFO, "b0c06f000000");
    now = TCB_NEXT_UPDATE - 3600_000 - 1;
    await cache.get(TDX_TCB_INFO, "b0c06f000000");
    now = TCB_NEXT_UPDATE - 60_000;
    expect(await cache.get(TDX_TCB_INFO, "b0c06f000000")).to.equal(bytesOf(TDX_TCB_INFO));
    await new Promise((resolve) => setImmediate(resolve));
    expect(inner.calls).to.have.length(2);
    expect(outcomes).to.deep.equal(["miss", "hit", "refresh-ahead", "miss"]);
  });

  it("keeps immutable kinds (a VCEK for a chip and TCB) forever", async () => {
    let now = 0;
    const inner = countingSource(() => new Uint8Array([1, 2, 3]));
    const cache = createCachingSource(inner.source, { now: () => now, immutableKinds: ["snp-vcek"] });
    await cache.get("snp-vcek", "Genoa/aa");
    now = 10 * 365 * 24 * 3600_000;
    await cache.get("snp-vcek", "Genoa/aa");
    expect(inner.calls).to.have.length(1);
  });

  it("with a store, a new cache (a restarted controller) answers from disk without asking the source", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-collateral-store-"));
    const now = Date.parse("2025-07-01T00:00:00Z");
    const first = countingSource(bytesOf);
    const before = createCachingSource(first.source, {
      now: () => now,
      store: await createDirectoryStore(dir),
    });
    await before.get(TDX_TCB_INFO, "b0c06f000000");
    await before.get(TDX_TCB_INFO_ISSUER_CHAIN, "b0c06f000000");
    expect(first.calls).to.have.length(2);

    const second = countingSource(() => new Error("must not be asked"));
    const outcomes: CacheOutcome[] = [];
    const after = createCachingSource(second.source, {
      now: () => now + 60_000,
      store: await createDirectoryStore(dir),
      onLookup: (_kind, outcome) => outcomes.push(outcome),
    });
    expect(await after.get(TDX_TCB_INFO, "b0c06f000000")).to.deep.equal(bytesOf(TDX_TCB_INFO));
    expect(await after.get(TDX_TCB_INFO_ISSUER_CHAIN, "b0c06f000000")).to.deep.equal(
      bytesOf(TDX_TCB_INFO_ISSUER_CHAIN),
    );
    expect(second.calls).to.deep.equal([]);
    expect(outcomes).to.deep.equal(["stored", "stored"]);
  });

  it("a store entry past its nextUpdate is fetched again, and a tampered entry is ignored", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-collateral-store-"));
    const store = await createDirectoryStore(dir);
    await store.save(TDX_TCB_INFO, "b0c06f000000", bytesOf(TDX_TCB_INFO), Date.parse("2025-07-01T00:00:00Z"));
    await store.save(SGX_PCK_CRL, "platform", bytesOf(SGX_PCK_CRL), Date.parse("2025-07-01T00:00:00Z"));
    const bin = readdirSync(dir).filter((name) => name.endsWith(".bin"));
    expect(bin).to.have.length(2);
    for (const name of bin) writeFileSync(join(dir, name), "tampered");
    expect(await store.load(TDX_TCB_INFO, "b0c06f000000")).to.equal(undefined);

    await store.save(TDX_TCB_INFO, "b0c06f000000", bytesOf(TDX_TCB_INFO), Date.parse("2025-07-01T00:00:00Z"));
    const inner = countingSource(bytesOf);
    const cache = createCachingSource(inner.source, { now: () => TCB_NEXT_UPDATE + 1, store });
    await cache.get(TDX_TCB_INFO, "b0c06f000000");
    expect(inner.calls).to.deep.equal([`${TDX_TCB_INFO}/b0c06f000000`]);
  });

  it("the store keeps at most maxEntries, dropping the oldest written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-collateral-store-"));
    const store = await createDirectoryStore(dir, { maxEntries: 2 });
    for (const key of ["a", "b", "c"]) {
      await store.save("snp-vcek", key, new Uint8Array([key.charCodeAt(0)]), 0);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    expect(await store.load("snp-vcek", "a")).to.equal(undefined);
    expect((await store.load("snp-vcek", "c"))?.value).to.deep.equal(new Uint8Array([0x63]));
    expect(readdirSync(dir).filter((name) => name.endsWith(".json"))).to.have.length(2);
  });

  it("refuses a cache directory it cannot write", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "trustgate-collateral-store-")), "a-file");
    writeFileSync(file, "");
    const failure = await createDirectoryStore(join(file, "cache")).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure?.message).to.equal(
      `collateral cache directory ${join(file, "cache")} is not writable: ENOTDIR: not a directory, mkdir '${join(file, "cache")}'`,
    );
  });
});
