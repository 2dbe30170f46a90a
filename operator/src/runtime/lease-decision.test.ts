import { expect } from "chai";
import type { V1LeaseSpec } from "@kubernetes/client-node";
import {
  claimedLeaseSpec,
  decideLeaseAction,
  type LeaseDecision,
  leaseExpiry,
  releasedLeaseSpec,
} from "./lease-decision.ts";

const now = new Date("2026-11-25T10:00:30.000Z");
const me = "controller-7d9f_a1b2c3d4";
const other = "controller-5c4e_0f0f0f0f";

// The API client hands MicroTime fields back as strings, so the cases use strings too.
function held(holderIdentity: string, renewTime: string, leaseDurationSeconds = 15, extra = {}): V1LeaseSpec {
  return {
    holderIdentity,
    renewTime,
    leaseDurationSeconds,
    leaseTransitions: 2,
    ...extra,
  } as unknown as V1LeaseSpec;
}

describe("decideLeaseAction", () => {
  const cases: Record<string, { spec: V1LeaseSpec | undefined; exists?: boolean; want: LeaseDecision }> = {
    "creates the Lease when it does not exist": {
      spec: undefined,
      exists: false,
      want: { action: "create" },
    },
    "acquires a Lease that has no spec": { spec: undefined, want: { action: "acquire" } },
    "acquires a released Lease (empty holder)": {
      spec: held("", "2026-11-25T10:00:29.000000Z", 1),
      want: { action: "acquire" },
    },
    "acquires a Lease whose holder stopped renewing more than a lease duration ago": {
      spec: held(other, "2026-11-25T10:00:14.999000Z"),
      want: { action: "acquire" },
    },
    "waits while another holder's Lease is still valid": {
      spec: held(other, "2026-11-25T10:00:20.000000Z"),
      want: { action: "wait", holder: other, expiresAt: new Date("2026-11-25T10:00:35.000Z") },
    },
    "waits at the exact expiry instant (expired means strictly before now)": {
      spec: held(other, "2026-11-25T10:00:15.000000Z"),
      want: { action: "wait", holder: other, expiresAt: now },
    },
    "waits when the holder's clock runs ahead (renewTime in the future)": {
      spec: held(other, "2026-11-25T10:00:40.000000Z"),
      want: { action: "wait", holder: other, expiresAt: new Date("2026-11-25T10:00:55.000Z") },
    },
    "renews its own Lease": { spec: held(me, "2026-11-25T10:00:28.000000Z"), want: { action: "renew" } },
    "renews its own Lease even after it expired (no one else took it)": {
      spec: held(me, "2026-11-25T09:00:00.000000Z"),
      want: { action: "renew" },
    },
    "acquires a held Lease without renewTime": {
      spec: { holderIdentity: other, leaseDurationSeconds: 15 },
      want: { action: "acquire" },
    },
    "acquires a held Lease without leaseDurationSeconds": {
      spec: { holderIdentity: other, renewTime: now },
      want: { action: "acquire" },
    },
  };
  for (const [name, { spec, exists, want }] of Object.entries(cases)) {
    it(name, () => {
      expect(decideLeaseAction(spec, exists ?? true, me, now)).to.deep.equal(want);
    });
  }
});

describe("leaseExpiry", () => {
  it("adds the lease duration to a string renewTime", () => {
    expect(leaseExpiry(held(other, "2026-11-25T10:00:00.500000Z", 10))).to.deep.equal(
      new Date("2026-11-25T10:00:10.500Z"),
    );
  });

  it("treats an unparsable renewTime as missing", () => {
    expect(leaseExpiry(held(other, "yesterday"))).to.equal(undefined);
  });
});

describe("claimedLeaseSpec", () => {
  it("starts a new Lease at zero transitions", () => {
    const spec = claimedLeaseSpec(undefined, me, 15, now);
    expect(spec).to.include({ holderIdentity: me, leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(spec.acquireTime?.getTime()).to.equal(now.getTime());
    expect(spec.renewTime?.getTime()).to.equal(now.getTime());
  });

  it("counts a transition and resets acquireTime when the holder changes", () => {
    const spec = claimedLeaseSpec(held(other, "2026-11-25T10:00:00.000000Z"), me, 15, now);
    expect(spec).to.include({ holderIdentity: me, leaseTransitions: 3 });
    expect(spec.acquireTime?.getTime()).to.equal(now.getTime());
  });

  it("keeps acquireTime and transitions on renewal", () => {
    const acquired = "2026-11-25T09:00:00.000000Z";
    const current = held(me, "2026-11-25T10:00:28.000000Z", 15, { acquireTime: acquired });
    const spec = claimedLeaseSpec(current, me, 15, now);
    expect(spec).to.include({ leaseTransitions: 2, acquireTime: acquired });
    expect(spec.renewTime?.getTime()).to.equal(now.getTime());
  });

  it("keeps fields it does not own (preferredHolder, strategy)", () => {
    const current = held(other, "2026-11-25T10:00:00.000000Z", 15, {
      preferredHolder: other,
      strategy: "OldestEmulationVersion",
    });
    expect(claimedLeaseSpec(current, me, 15, now)).to.include({
      preferredHolder: other,
      strategy: "OldestEmulationVersion",
    });
  });

  it("serialises times with microsecond precision, as the API server requires", () => {
    expect(JSON.stringify(claimedLeaseSpec(undefined, me, 15, now).renewTime)).to.equal(
      '"2026-11-25T10:00:30.000000Z"',
    );
  });
});

describe("releasedLeaseSpec", () => {
  it("clears the holder, keeps the transition count and leaves a Lease others acquire at once", () => {
    const released = releasedLeaseSpec(held(me, "2026-11-25T10:00:28.000000Z"), now);
    expect(released).to.include({ holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 2 });
    expect(decideLeaseAction(released, true, other, now)).to.deep.equal({ action: "acquire" });
  });
});
