import { expect } from "chai";
import { WorkQueue } from "./workqueue.ts";

describe("WorkQueue", () => {
  it("holds a key at most once", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.length).to.equal(2);
    expect(await q.get()).to.equal("a");
    expect(await q.get()).to.equal("b");
  });

  it("re-queues a key added while it is processed, only after it is done", async () => {
    const q = new WorkQueue();
    q.add("a");
    const key = await q.get();
    q.add("a");
    expect(q.length, "not handed out twice concurrently").to.equal(0);
    q.done(key ?? "");
    expect(q.length).to.equal(1);
  });

  it("backs off exponentially per key and forgets on success", () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 35 });
    expect([
      q.addRateLimited("a"),
      q.addRateLimited("a"),
      q.addRateLimited("a"),
      q.addRateLimited("a"),
    ]).to.deep.equal([10, 20, 35, 35]);
    q.forget("a");
    expect(q.failureCount("a")).to.equal(0);
    q.shutdown();
  });

  it("delivers delayed keys after the delay", async () => {
    const q = new WorkQueue();
    q.addAfter("later", 20);
    const started = Date.now();
    expect(await q.get()).to.equal("later");
    expect(Date.now() - started).to.be.at.least(15);
  });

  it("lets the earlier deadline win: a failed reconcile's retry is not lost behind a long requeue", async () => {
    const q = new WorkQueue({ baseDelayMs: 20, maxDelayMs: 1000 });
    q.addAfter("cvm", 300_000); // a challenge issued: re-attest in 5 minutes
    expect(q.addRateLimited("cvm")).to.equal(20); // then a reconcile fails: retry in 20 ms
    const started = Date.now();
    expect(await q.get()).to.equal("cvm");
    expect(Date.now() - started).to.be.below(5_000);
    q.done("cvm");
    q.addAfter("other", 20);
    q.addAfter("other", 300_000); // a later deadline does not push back an earlier one
    expect(await q.get()).to.equal("other");
    q.shutdown();
  });

  it("wakes waiting workers on shutdown", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutdown();
    expect(await waiting).to.equal(undefined);
  });
});
