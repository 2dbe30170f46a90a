import { expect } from "chai";
import type { AttestationResultClaims } from "../../../operator/src/attestation/result/result-token.ts";
import type { Verdict } from "../../../operator/src/attestation/types.ts";
import { decideReadiness, type ReadinessInput, type ReadyBacking } from "./ready-decision.ts";

const NOW = Date.parse("2030-01-01T12:00:00Z");
const A = "a1".repeat(32);
const B = "b2".repeat(32);
const own = (jkt: string, nonce: string) => ({ key: { thumbprint: jkt }, nonce });

function claims(jkt: string, nonce: string, verdict: Verdict = "affirming", expMs = NOW + 3_600_000) {
  return {
    ok: true as const,
    claims: {
      iss: "trustgate",
      sub: "team-a/llm",
      iat: NOW / 1000,
      exp: expMs / 1000,
      nonce,
      cnf: { jkt },
      "ear.status": verdict,
      submods: {},
    } satisfies AttestationResultClaims,
  };
}

const unverified = (reason: string) => ({ ok: false as const, reason });
const backing = (jkt: string, nonce: string, expiresAtMs = NOW + 3_600_000): ReadyBacking => ({
  jkt,
  nonce,
  expiresAtMs,
});

describe("decideReadiness (when the guest sets the GPUs' CC ready state)", () => {
  const base = { nowMs: NOW, driver: "not-ready" as const };
  const cases: [string, ReadinessInput, string, Partial<ReadyBacking>?][] = [
    [
      "a fresh CVM: nothing answered, no result",
      { ...base, token: unverified("no signed result yet") },
      "keep",
    ],
    [
      "the verified affirming result for its own key and challenge",
      { ...base, own: own("k1", A), token: claims("k1", A) },
      "set-ready",
      { jkt: "k1", nonce: A, expiresAtMs: NOW + 3_600_000 },
    ],
    [
      "a tolerated warning (the operator signs no other)",
      { ...base, own: own("k1", A), token: claims("k1", A, "warning") },
      "set-ready",
    ],
    ["a result for another key", { ...base, own: own("k1", A), token: claims("k2", A) }, "keep"],
    ["a result for another challenge", { ...base, own: own("k1", A), token: claims("k1", B) }, "keep"],
    [
      "a contraindicated token (never issued, never believed as READY)",
      { ...base, own: own("k1", A), token: claims("k1", A, "contraindicated") },
      "keep",
    ],
    [
      "a token that does not verify (forged, expired, another CVM's)",
      { ...base, own: own("k1", A), token: unverified("signature verification failed") },
      "keep",
    ],
    [
      "an unsigned affirming status for its key",
      {
        ...base,
        own: own("k1", A),
        token: unverified("no signed result yet"),
        reported: { verdict: "affirming", nonce: A, keyThumbprint: "k1" },
      },
      "keep",
    ],
    [
      "re-keyed for a new challenge, the old result still standing: stays ready",
      { ...base, driver: "ready", own: own("k2", B), backing: backing("k1", A), token: claims("k1", A) },
      "keep",
      { nonce: A },
    ],
    [
      "the new result for the new key renews the backing",
      {
        ...base,
        driver: "ready",
        own: own("k2", B),
        backing: backing("k1", A),
        token: claims("k2", B, "affirming", NOW + 7_200_000),
      },
      "keep",
      { jkt: "k2", nonce: B, expiresAtMs: NOW + 7_200_000 },
    ],
    [
      "the backing expired with no newer result (the new key's result never came)",
      {
        ...base,
        nowMs: NOW + 3_600_000,
        driver: "ready",
        own: own("k2", B),
        backing: backing("k1", A),
        token: unverified('"exp" claim timestamp check failed'),
      },
      "set-not-ready",
    ],
    [
      "re-attestation failed: contraindicated for its key and challenge, unsigned, backing still valid",
      {
        ...base,
        driver: "ready",
        own: own("k2", B),
        backing: backing("k1", A),
        token: unverified("no signed result yet"),
        reported: { verdict: "contraindicated", nonce: B, keyThumbprint: "k2" },
      },
      "set-not-ready",
    ],
    [
      "a contraindicated result for an earlier challenge does not reset",
      {
        ...base,
        driver: "ready",
        own: own("k2", B),
        backing: backing("k1", A),
        token: claims("k1", A),
        reported: { verdict: "contraindicated", nonce: A, keyThumbprint: "k0" },
      },
      "keep",
    ],
    [
      "a restarted guest keeps the driver's READY on the standing verified result",
      { ...base, driver: "ready", token: claims("k-earlier-process", A) },
      "keep",
      { jkt: "k-earlier-process" },
    ],
    [
      "a restarted guest resets READY that no verified result stands for",
      { ...base, driver: "ready", token: unverified("no signed result yet") },
      "set-not-ready",
    ],
    [
      "a restarted guest never sets READY on an earlier process's result",
      { ...base, token: claims("k-earlier-process", A) },
      "keep",
    ],
    [
      "READY set by someone else (the image at boot) with no result of its own: reset",
      { ...base, driver: "ready", own: own("k1", A), token: claims("k9", A) },
      "set-not-ready",
    ],
    [
      "a driver state it cannot read is reset when nothing holds it ready",
      { ...base, driver: "unknown", own: own("k1", A), token: unverified("no signed result yet") },
      "set-not-ready",
    ],
    [
      "READY is set again while the backing stands when the driver is not ready",
      { ...base, own: own("k2", B), backing: backing("k1", A), token: claims("k1", A) },
      "set-ready",
      { nonce: A },
    ],
  ];
  for (const [name, input, action, held] of cases)
    it(name, () => {
      const decision = decideReadiness(input);
      expect(decision.action, decision.reason).to.equal(action);
      if (held !== undefined)
        expect("backing" in decision ? decision.backing : undefined).to.deep.include(held);
    });

  it("says why: the key or challenge mismatch, the expiry, the failure", () => {
    expect(decideReadiness({ ...base, own: own("k1", A), token: claims("k2", A) }).reason).to.equal(
      "no verified result for this guest: the result is for key k2, not this guest's k1",
    );
    expect(
      decideReadiness({
        ...base,
        nowMs: NOW + 3_600_000,
        driver: "ready",
        backing: backing("k1", A),
        own: own("k2", B),
        token: unverified("no signed result yet"),
      }).reason,
    ).to.equal(
      `the result for challenge ${A} expired at 2030-01-01T13:00:00.000Z with no newer one for this guest (no signed result yet)`,
    );
  });
});
