import { expect } from "chai";
import { join } from "node:path";
import { FIXTURE_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import { pcsItems } from "../../../test/fixtures/tdx/pcs-items.ts";
import { tdxTeeFromItem } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import type { CollateralSource } from "../types.ts";
import { createCachingSource, firstAvailable } from "./caching-source.ts";
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
});
