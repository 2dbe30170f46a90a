/**
 * The guest and its ready keeper against the compiled fake libnvidia-ml (through koffi, as in production): the fake
 * driver refuses "CUDA" work until the GPUs are set ready, and a reset is final until it is reloaded.
 */
import { expect } from "chai";
import { pino } from "pino";
import type { ConfidentialVM } from "../../../operator/src/api/v1alpha1/generated/types.ts";
import { signAttestationResult } from "../../../operator/src/attestation/result/result-token.ts";
import {
  generateSigningKey,
  publicJwks,
  type StoredSigningKey,
} from "../../../operator/src/attestation/result/signing-keys.ts";
import { generateSimPki, type SimPki } from "../../../operator/src/attestation/simulated/sim-pki.ts";
import { SimulatedTee } from "../../../operator/src/attestation/simulated/simulated-tee.ts";
import type { EvidenceBundle } from "../../../operator/src/attestation/types.ts";
import { aConfidentialVM } from "../../../operator/test/support/builders/confidential-vm.ts";
import { compileFakeNvml, type FakeNvml } from "../../test/fake-nvml/fake-nvml.ts";
import { Guest } from "../guest.ts";
import type { OperatorTrust } from "../operator-trust.ts";
import { loadKoffiNvml } from "../providers/nvml/koffi-nvml.ts";
import { NvmlGpus } from "../providers/nvml/nvml-gpus.ts";
import { GpuReadyKeeper, type Timers } from "./ready-keeper.ts";

const START = Date.parse("2030-01-01T12:00:00Z");
const HOUR = 3_600_000;
const A = "a1".repeat(32);
const B = "b2".repeat(32);
const SUBJECT = "team-a/llm";
const silent = pino({ level: "silent" });

/** Timers the test fires by moving the clock. */
class FakeTimers implements Timers {
  pending = new Map<number, { at: number; callback: () => void }>();
  #next = 0;
  readonly #clock: { now: number };
  constructor(clock: { now: number }) {
    this.#clock = clock;
  }
  set(callback: () => void, ms: number): number {
    this.#next += 1;
    this.pending.set(this.#next, { at: this.#clock.now + ms, callback });
    return this.#next;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Moves the clock to `to` and runs the timers due by then. */
  advanceTo(to: number): void {
    this.#clock.now = to;
    for (const [id, timer] of [...this.pending]) {
      if (timer.at > to) continue;
      this.pending.delete(id);
      timer.callback();
    }
  }
}

describe("GPU ready state: set only on the operator's verified result for the guest's own key (fake NVIDIA driver)", function () {
  this.timeout(60_000);
  let fake: FakeNvml | undefined;
  let pki: SimPki;
  let operator: StoredSigningKey;
  let clock: { now: number };
  let timers: FakeTimers;
  let applied: EvidenceBundle[];

  const driver = (): FakeNvml => {
    if (fake === undefined) throw new Error("no compiled fake");
    return fake;
  };
  const cudaRuns = (): boolean => driver().cudaLaunch() === 0;
  const trust: () => OperatorTrust = () => ({ jwks: publicJwks([operator]), subject: SUBJECT });

  before(async function () {
    fake = await compileFakeNvml();
    if (fake === undefined) this.skip();
    pki = await generateSimPki();
    operator = await generateSigningKey(new Date(START));
  });

  after(async () => {
    await fake?.remove();
  });

  beforeEach(() => {
    driver().reloadDriver();
    clock = { now: START };
    timers = new FakeTimers(clock);
    applied = [];
  });

  function guest(): { guest: Guest; keeper: GpuReadyKeeper } {
    const gpus = new NvmlGpus(() => loadKoffiNvml(driver().library));
    const now = () => new Date(clock.now);
    const keeper = new GpuReadyKeeper({
      readySwitch: gpus.readySwitch,
      trust: trust(),
      log: silent,
      now,
      timers,
    });
    const g = new Guest({
      api: {
        applyEvidence: (evidence) => {
          applied.push(evidence);
          return Promise.resolve(aConfidentialVM({ tee: "snp" }, "llm"));
        },
      },
      providers: { tee: new SimulatedTee(pki), gpus },
      secretsDir: "/nonexistent",
      trust: trust(),
      log: silent,
      now,
      readiness: keeper,
    });
    return { guest: g, keeper };
  }

  const cvm = (status: ConfidentialVM["status"]): ConfidentialVM =>
    aConfidentialVM({ tee: "snp", policyRef: "p", gpus: { count: 2 } }, "llm", { status });
  const challenge = (nonce: string) => ({
    challenge: {
      nonce,
      issuedAt: new Date(clock.now).toISOString(),
      expiresAt: new Date(clock.now + 300_000).toISOString(),
    },
  });

  /** The operator's signed result, as the controller writes it; each field can be forged. */
  function result(
    jkt: string,
    nonce: string,
    forged: { subject?: string; expiresInMs?: number; key?: StoredSigningKey } = {},
  ): Promise<string> {
    return signAttestationResult(
      {
        issuer: "trustgate",
        subject: forged.subject ?? SUBJECT,
        nonce,
        guestKeyThumbprint: jkt,
        verdict: "affirming",
        submods: {},
        issuedAt: new Date(clock.now),
        expiresAt: new Date(clock.now + (forged.expiresInMs ?? HOUR)),
      },
      forged.key ?? operator,
    );
  }

  /** Answers `nonce` and returns the new key's thumbprint. */
  async function answer(g: Guest, nonce: string): Promise<string> {
    expect((await g.handle(cvm(challenge(nonce)))).answered?.nonce).to.equal(nonce);
    return g.keyThumbprint ?? "";
  }

  it("sets READY only after the verified affirming result for its key and challenge, and reports it on the next answer", async () => {
    const { guest: g, keeper } = guest();
    const key = await answer(g, A);
    expect(applied[0]?.gpuSystem).to.deep.equal({
      environment: "prod",
      ccFeature: "on",
      devToolsMode: "off",
      multiGpuMode: "none",
      readyState: "not-ready",
    });
    expect(cudaRuns(), "the CC driver refuses work before attestation").to.equal(false);
    await g.handle(cvm({ attestation: { verdict: "affirming", nonce: A, keyThumbprint: key } }));
    expect(cudaRuns(), "an unsigned affirming status is not enough").to.equal(false);
    await g.handle(cvm({ attestation: { token: await result(key, A) } }));
    expect(keeper.state).to.equal("ready");
    expect(cudaRuns()).to.equal(true);

    await answer(g, B);
    expect(applied[1]?.gpuSystem?.readyState, "the state it set, in the next answer").to.equal("ready");
    expect(cudaRuns(), "a new key alone does not reset: the old result still stands").to.equal(true);
  });

  it("never sets READY for a forged result: another key, another CVM's, expired, another challenge, an unpinned signer", async () => {
    const { guest: g, keeper } = guest();
    const key = await answer(g, A);
    const stranger = await generateSigningKey(new Date(START));
    const forged: [string, string][] = [
      ["another key's", await result("c2".repeat(22), A)],
      ["another CVM's", await result(key, A, { subject: "team-b/other" })],
      ["an expired", await result(key, A, { expiresInMs: -1_000 })],
      ["another challenge's", await result(key, B)],
      ["an unpinned signer's", await result(key, A, { key: stranger })],
      ["a garbage", "not.a.jwt"],
    ];
    for (const [what, token] of forged) {
      await g.handle(cvm({ attestation: { token, verdict: "affirming", nonce: A, keyThumbprint: key } }));
      expect(cudaRuns(), `${what} result`).to.equal(false);
      expect(keeper.state, `${what} result`).to.equal("not-ready");
    }
    await g.handle(cvm({ attestation: { token: await result(key, A) } }));
    expect(cudaRuns(), "the genuine result then does").to.equal(true);
  });

  it("resets when re-attestation fails for its current key, and the driver keeps refusing until it reloads", async () => {
    const { guest: g, keeper } = guest();
    const first = await answer(g, A);
    const standing = await result(first, A);
    await g.handle(cvm({ attestation: { token: standing } }));
    expect(cudaRuns()).to.equal(true);
    const second = await answer(g, B);
    await g.handle(
      cvm({ attestation: { token: standing, verdict: "contraindicated", nonce: A, keyThumbprint: first } }),
    );
    expect(cudaRuns(), "a failure for an earlier challenge does not reset").to.equal(true);
    await g.handle(cvm({ attestation: { verdict: "contraindicated", nonce: B, keyThumbprint: second } }));
    expect(keeper.state).to.equal("not-ready");
    expect(cudaRuns()).to.equal(false);
    // The driver never accepts READY again in this boot, even on a genuine later result.
    await g.handle(cvm({ attestation: { token: await result(second, B) } }));
    expect(cudaRuns()).to.equal(false);
    expect(keeper.state).to.equal("not-ready");
  });

  it("resets when the result expires (a timer: nothing changes on the CVM), unless a newer one for its key came", async () => {
    const { guest: g, keeper } = guest();
    const first = await answer(g, A);
    await g.handle(cvm({ attestation: { token: await result(first, A) } }));
    expect(cudaRuns()).to.equal(true);
    // Re-attestation after 40 minutes; its result (another hour) arrives before the first one expires.
    timers.advanceTo(START + 40 * 60_000);
    const second = await answer(g, B);
    await g.handle(cvm({ attestation: { token: await result(second, B) } }));
    timers.advanceTo(START + HOUR);
    await keeper.settled();
    expect(cudaRuns(), "the first result's expiry no longer matters").to.equal(true);
    timers.advanceTo(START + 40 * 60_000 + HOUR);
    await keeper.settled();
    expect(keeper.state).to.equal("not-ready");
    expect(cudaRuns()).to.equal(false);
    expect(timers.pending.size).to.equal(0);
  });

  it("a new key whose result never arrives: ready until the old result expires, then not", async () => {
    const { guest: g, keeper } = guest();
    const first = await answer(g, A);
    const standing = await result(first, A);
    await g.handle(cvm({ attestation: { token: standing } }));
    timers.advanceTo(START + 30 * 60_000);
    await answer(g, B);
    await g.handle(cvm({ attestation: { token: standing } }));
    expect(cudaRuns()).to.equal(true);
    timers.advanceTo(START + HOUR - 1);
    await keeper.settled();
    expect(cudaRuns()).to.equal(true);
    timers.advanceTo(START + HOUR);
    await keeper.settled();
    expect(cudaRuns()).to.equal(false);
  });

  it("a restarted guest keeps READY on the standing result until it expires; without one it resets", async () => {
    const earlier = guest();
    const key = await answer(earlier.guest, A);
    const standing = await result(key, A);
    await earlier.guest.handle(cvm({ attestation: { token: standing } }));
    earlier.keeper.close();

    const restarted = guest();
    await restarted.guest.handle(cvm({ attestation: { token: standing } }));
    expect(restarted.keeper.state).to.equal("ready");
    expect(cudaRuns(), "systemd restarted the guest; the workload keeps its GPUs").to.equal(true);
    timers.advanceTo(START + HOUR);
    await restarted.keeper.settled();
    expect(cudaRuns()).to.equal(false);

    driver().reloadDriver();
    const booted = guest();
    await booted.guest.handle(cvm({}));
    expect(cudaRuns(), "never READY on its own say-so").to.equal(false);
  });

  it("resets READY that the image set at boot before any attestation", async () => {
    const gpus = new NvmlGpus(() => loadKoffiNvml(driver().library));
    await gpus.readySwitch.set(true);
    expect(cudaRuns()).to.equal(true);
    await guest().guest.handle(cvm({}));
    expect(cudaRuns()).to.equal(false);
  });
});
