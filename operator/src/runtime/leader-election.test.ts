import { expect } from "chai";
import { ApiException, type V1Lease } from "@kubernetes/client-node";
import { pino } from "pino";
import {
  type LeaseApi,
  LeaderElector,
  type LeaderElectorOptions,
  leaderIdentity,
} from "./leader-election.ts";

const log = pino({ level: "silent" });
const TIMINGS = { leaseDurationMs: 1000, renewDeadlineMs: 300, retryPeriodMs: 50 };

function apiError(code: number, reason: string): ApiException<string> {
  return new ApiException(
    code,
    reason,
    JSON.stringify({ kind: "Status", code, reason, message: reason }),
    {},
  );
}

/** One Lease in memory with resourceVersion checks; round-trips JSON like the real client. */
class FakeLeases implements LeaseApi {
  lease: V1Lease | undefined;
  writes = 0;
  lastWriteAt = 0;
  failing = false;
  hanging = false;
  private version = 0;

  readNamespacedLease(): Promise<V1Lease> {
    return this.respond(() => {
      if (this.lease === undefined) throw apiError(404, "NotFound");
      return this.lease;
    });
  }

  createNamespacedLease(param: { body: V1Lease }): Promise<V1Lease> {
    return this.respond(() => {
      if (this.lease !== undefined) throw apiError(409, "AlreadyExists");
      return this.store(param.body);
    });
  }

  replaceNamespacedLease(param: { body: V1Lease }): Promise<V1Lease> {
    return this.respond(() => {
      if (param.body.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) {
        throw apiError(409, "Conflict");
      }
      return this.store(param.body);
    });
  }

  /** What an admin overwriting the holder does. */
  steal(holderIdentity: string): void {
    const lease = JSON.parse(JSON.stringify(this.lease ?? {})) as { spec?: Record<string, unknown> };
    lease.spec = {
      ...lease.spec,
      holderIdentity,
      leaseDurationSeconds: lease.spec?.["leaseDurationSeconds"] ?? 15,
      renewTime: new Date().toISOString(),
    };
    this.store(lease);
  }

  private store(body: V1Lease): V1Lease {
    this.writes++;
    this.lastWriteAt = Date.now();
    this.version++;
    const stored = JSON.parse(JSON.stringify(body)) as V1Lease;
    stored.metadata ??= {};
    stored.metadata.resourceVersion = `${this.version}`;
    this.lease = stored;
    return stored;
  }

  private respond(answer: () => V1Lease): Promise<V1Lease> {
    // An error thrown by answer() rejects the promise, like an error status from the server.
    return new Promise((resolve, reject) => {
      if (this.hanging) return;
      if (this.failing) reject(apiError(500, "InternalError"));
      else resolve(structuredClone(answer()));
    });
  }
}

interface Candidate {
  elector: LeaderElector;
  started: number;
  stopped: number;
  stoppedAt: number;
  running: Promise<void>;
}

function candidate(leases: FakeLeases, overrides: Partial<LeaderElectorOptions> = {}): Candidate {
  const result = { started: 0, stopped: 0, stoppedAt: 0 } as Candidate;
  result.elector = new LeaderElector({
    leases,
    namespace: "trustgate-system",
    name: "trustgate-controller",
    identity: leaderIdentity("controller-0"),
    log,
    ...TIMINGS,
    onStartedLeading: () => result.started++,
    onStoppedLeading: () => {
      result.stopped++;
      result.stoppedAt = Date.now();
    },
    ...overrides,
  });
  result.running = result.elector.run();
  return result;
}

async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<number> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error("condition not reached");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Date.now() - started;
}

describe("LeaderElector (fake Lease API)", () => {
  it("creates a missing Lease and starts leading", async () => {
    const leases = new FakeLeases();
    const a = candidate(leases);
    await waitFor(() => a.started === 1);
    expect(a.elector.state).to.equal("leading");
    expect(leases.lease?.spec).to.include({
      holderIdentity: a.elector.identity,
      leaseDurationSeconds: 1,
      leaseTransitions: 0,
    });
    await a.elector.release();
    await a.running;
  });

  it("keeps renewing while a second candidate stands by", async () => {
    const leases = new FakeLeases();
    const a = candidate(leases);
    await waitFor(() => a.started === 1);
    const b = candidate(leases);
    const writesBefore = leases.writes;
    await waitFor(() => leases.writes - writesBefore >= 3);
    expect([a.elector.state, b.elector.state]).to.deep.equal(["leading", "standby"]);
    expect(b.started).to.equal(0);
    await Promise.all([a.elector.release(), b.elector.release()]);
  });

  it("hands the Lease over on release and counts the transition", async () => {
    const leases = new FakeLeases();
    const a = candidate(leases);
    await waitFor(() => a.started === 1);
    const b = candidate(leases);
    await a.elector.release();
    expect(a.stopped, "release is not a loss").to.equal(0);
    expect(a.elector.state).to.equal("stopped");
    const handoverMs = await waitFor(() => b.started === 1);
    expect(handoverMs, "at a retry, not after the Lease expired").to.be.below(TIMINGS.leaseDurationMs);
    expect(leases.lease?.spec).to.include({ holderIdentity: b.elector.identity, leaseTransitions: 1 });
    await b.elector.release();
  });

  it("stops leading when the Lease is taken by someone else", async () => {
    const leases = new FakeLeases();
    const a = candidate(leases);
    await waitFor(() => a.started === 1);
    leases.steal("admin");
    await waitFor(() => a.stopped === 1);
    await a.running;
    expect(a.elector.state).to.equal("stopped");
    await a.elector.release();
    expect(leases.lease?.spec?.holderIdentity, "release leaves a foreign holder alone").to.equal("admin");
  });

  it("stops leading when renewals fail past the renew deadline", async () => {
    const leases = new FakeLeases();
    const a = candidate(leases);
    await waitFor(() => a.started === 1);
    leases.failing = true;
    await waitFor(() => a.stopped === 1);
    // Stopped after the renew deadline, yet before the Lease expired for the other candidates.
    expect(a.stoppedAt - leases.lastWriteAt).to.be.within(
      TIMINGS.renewDeadlineMs - TIMINGS.retryPeriodMs,
      TIMINGS.leaseDurationMs - 1,
    );
    await a.running;
  });

  it("stops leading at the renew deadline even when a renewal request hangs", async () => {
    const leases = new FakeLeases();
    const a = candidate(leases);
    await waitFor(() => a.started === 1);
    leases.hanging = true;
    await waitFor(() => a.stopped === 1);
    expect(a.stoppedAt - leases.lastWriteAt).to.be.below(TIMINGS.leaseDurationMs);
  });

  it("survives transient renewal errors shorter than the deadline", async () => {
    const leases = new FakeLeases();
    const a = candidate(leases, { renewDeadlineMs: 800 });
    await waitFor(() => a.started === 1);
    leases.failing = true;
    await new Promise((resolve) => setTimeout(resolve, 150));
    leases.failing = false;
    const writesBefore = leases.writes;
    await waitFor(() => leases.writes > writesBefore);
    expect(a.stopped).to.equal(0);
    expect(a.elector.isLeader()).to.equal(true);
    await a.elector.release();
  });

  it("resolves run() without leading when a standby is released", async () => {
    const leases = new FakeLeases();
    leases.steal("someone-else");
    const a = candidate(leases);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await a.elector.release();
    await a.running;
    expect([a.started, a.stopped, a.elector.state]).to.deep.equal([0, 0, "stopped"]);
  });

  it("does not hold up release() when the API server hangs", async () => {
    const leases = new FakeLeases();
    const a = candidate(leases);
    await waitFor(() => a.started === 1);
    leases.hanging = true;
    const started = Date.now();
    await a.elector.release();
    expect(Date.now() - started).to.be.below(TIMINGS.renewDeadlineMs * 2 + 200);
    expect([a.stopped, a.elector.state]).to.deep.equal([0, "stopped"]);
  });

  it("rejects timings where the renew deadline is not below the lease duration", () => {
    expect(() => candidate(new FakeLeases(), { leaseDurationMs: 1000, renewDeadlineMs: 1000 })).to.throw(
      /renew deadline/,
    );
  });
});
