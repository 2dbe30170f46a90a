import { expect } from "chai";
import { CoordinationV1Api, CoreV1Api, V1MicroTime } from "@kubernetes/client-node";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { pino } from "pino";
import { LeaderElector, leaderIdentity } from "../../src/runtime/leader-election.ts";
import { kubeConfig } from "../support/control-plane.ts";

const log = pino({ level: "silent" });
const TIMINGS = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };
// One retry period plus its jitter, plus room for the API round trips.
const HANDOVER_BUDGET_MS = TIMINGS.retryPeriodMs * 1.2 + 400;

interface Candidate {
  elector: LeaderElector;
  started: number;
  stopped: number;
  startedAt?: number;
  stoppedAt?: number;
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("leader election on a real API server", function () {
  this.timeout(60_000);
  const namespace = `leader-election-${Date.now().toString(36)}`;
  let leases: CoordinationV1Api;
  let candidates: Candidate[] = [];

  function candidate(leaseName: string, pod: string): Candidate {
    const result: Candidate = {
      started: 0,
      stopped: 0,
      elector: new LeaderElector({
        leases,
        namespace,
        name: leaseName,
        identity: leaderIdentity(pod),
        log,
        ...TIMINGS,
        onStartedLeading: () => {
          result.started++;
          result.startedAt = Date.now();
        },
        onStoppedLeading: () => {
          result.stopped++;
          result.stoppedAt = Date.now();
        },
      }),
    };
    void result.elector.run();
    candidates.push(result);
    return result;
  }

  function leaders(): Candidate[] {
    return candidates.filter((c) => c.elector.isLeader());
  }

  before(async () => {
    const kc = await kubeConfig();
    leases = kc.makeApiClient(CoordinationV1Api);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  afterEach(async () => {
    await Promise.all(candidates.map((c) => c.elector.release()));
    candidates = [];
  });

  it("lets exactly one of two candidates lead, and records it in the Lease", async () => {
    const a = candidate("one-leader", "controller-a");
    const b = candidate("one-leader", "controller-b");
    await waitFor(() => leaders().length === 1, 5000);
    await new Promise((resolve) => setTimeout(resolve, TIMINGS.retryPeriodMs * 3));
    expect(leaders()).to.have.length(1);
    expect(a.started + b.started).to.equal(1);
    const [leader] = leaders();
    const lease = await leases.readNamespacedLease({ name: "one-leader", namespace });
    expect(lease.spec).to.include({
      holderIdentity: leader?.elector.identity,
      leaseDurationSeconds: 3,
      leaseTransitions: 0,
    });
  });

  it("hands over to the standby within about one retry period when the leader releases", async () => {
    const a = candidate("handover", "controller-a");
    await waitFor(() => a.started === 1, 5000);
    const b = candidate("handover", "controller-b");
    await new Promise((resolve) => setTimeout(resolve, TIMINGS.retryPeriodMs * 2));
    expect(b.elector.state).to.equal("standby");

    const releasedAt = Date.now();
    await a.elector.release();
    await waitFor(() => b.started === 1, 5000);
    const handoverMs = (b.startedAt ?? 0) - releasedAt;
    console.log(`      handover took ${handoverMs} ms`);
    expect(handoverMs).to.be.below(HANDOVER_BUDGET_MS);
    expect(a.stopped, "a release is not a loss").to.equal(0);
    const lease = await leases.readNamespacedLease({ name: "handover", namespace });
    expect(lease.spec).to.include({ holderIdentity: b.elector.identity, leaseTransitions: 1 });
  });

  it("stops a leader whose Lease an admin overwrote", async () => {
    const a = candidate("stolen", "controller-a");
    await waitFor(() => a.started === 1, 5000);
    const stolenAt = Date.now();
    await leases.patchNamespacedLease(
      { name: "stolen", namespace, body: { spec: { holderIdentity: "admin-override" } } },
      mergePatch,
    );
    await waitFor(() => a.stopped === 1, 5000);
    console.log(`      stopped ${(a.stoppedAt ?? 0) - stolenAt} ms after the overwrite`);
    expect((a.stoppedAt ?? 0) - stolenAt).to.be.below(HANDOVER_BUDGET_MS);
    expect(a.elector.state).to.equal("stopped");
    const lease = await leases.readNamespacedLease({ name: "stolen", namespace });
    expect(lease.spec?.holderIdentity, "the loser does not write again").to.equal("admin-override");
  });

  it("takes over a crashed holder's Lease only after it expires", async () => {
    const renewedAt = Date.now();
    await leases.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: "crashed", namespace },
        spec: {
          holderIdentity: "controller-crashed_0000",
          leaseDurationSeconds: 2,
          renewTime: new V1MicroTime(renewedAt),
          leaseTransitions: 4,
        },
      },
    });
    const a = candidate("crashed", "controller-a");
    await waitFor(() => a.started === 1, 10_000);
    const takenAfterMs = (a.startedAt ?? 0) - renewedAt;
    console.log(`      took over ${takenAfterMs} ms after the last renewal`);
    expect(takenAfterMs).to.be.within(2000, 2000 + HANDOVER_BUDGET_MS);
    const lease = await leases.readNamespacedLease({ name: "crashed", namespace });
    expect(lease.spec).to.include({ holderIdentity: a.elector.identity, leaseTransitions: 5 });
  });
});
