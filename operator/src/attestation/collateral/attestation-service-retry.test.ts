/**
 * The attestation service client's retries against a real local HTTPS server: which failures are tried again, after
 * which waits (an injected sleep records them and moves the clock), how a 429's Retry-After holds back every caller,
 * and that no wait outlives the deadline.
 */
import { expect } from "chai";
import {
  serviceFailure,
  startServiceClientHarness,
  type ServiceClientHarness,
} from "../../../test/support/fakes/service-client-harness.ts";
import { createAttestationServiceClient } from "./attestation-service-client.ts";

describe("attestation service client: retries and rate limits (real HTTPS on 127.0.0.1)", function () {
  this.timeout(20_000);
  let h: ServiceClientHarness;

  before(async () => {
    h = await startServiceClientHarness();
  });
  after(async () => {
    await h.server.close();
  });
  beforeEach(() => {
    h.reset();
  });

  it("retries a 500 after a jittered backoff and returns the answer that follows", async () => {
    h.answerInTurn(
      (res) => res.writeHead(500).end("oops"),
      (res) => res.writeHead(200).end("fine"),
    );
    const answer = await h.client({ retry: { baseDelayMs: 200 } }).get(`${h.server.url}/x`, {
      service: "amd-kds",
    });
    expect(Buffer.from(answer?.body ?? []).toString()).to.equal("fine");
    expect(h.server.seen).to.have.length(2);
    expect(h.sleeps).to.deep.equal([150]);
    expect(h.events.map((e) => [e.outcome, e.status, e.attempt, e.final])).to.deep.equal([
      ["http-error", 500, 1, false],
      ["ok", 200, 2, true],
    ]);
  });

  it("gives up on a 500 forever after the attempts, naming the status and the body", async () => {
    h.server.handle((_seen, res) => res.writeHead(500).end('{"error": "database\n down"}'));
    const error = await serviceFailure(
      h.client({ retry: { maxAttempts: 4 } }).get(`${h.server.url}/tcb?fmspc=00906ed50000`, {
        service: "intel-pcs",
      }),
    );
    expect(error.message).to.equal(
      `Intel PCS ${h.server.url}/tcb?fmspc=00906ed50000: answered HTTP 500 "{\\"error\\": \\"database down\\"}" (after 4 attempts)`,
    );
    expect([error.failure, error.status, error.attempts, error.service]).to.deep.equal([
      "http-status",
      500,
      4,
      "intel-pcs",
    ]);
    expect(h.server.seen).to.have.length(4);
    expect(h.sleeps).to.have.length(3);
    expect(h.events.map((e) => e.final)).to.deep.equal([false, false, false, true]);
  });

  it("never retries a 4xx other than 429", async () => {
    for (const status of [400, 401, 403, 410]) {
      h.server.seen.length = 0;
      h.server.handle((_seen, res) => res.writeHead(status).end());
      const error = await serviceFailure(h.client().get(`${h.server.url}/x`, { service: "nvidia-rim" }));
      expect(error.message).to.equal(`NVIDIA RIM service ${h.server.url}/x: answered HTTP ${status}`);
      expect(h.server.seen, String(status)).to.have.length(1);
    }
    expect(h.sleeps).to.deep.equal([]);
  });

  it("waits what a 429's Retry-After asks before trying again", async () => {
    h.answerInTurn(
      (res) => res.writeHead(429, { "Retry-After": "2" }).end("slow down"),
      (res) => res.writeHead(200).end("ok"),
    );
    const answer = await h.client().get(`${h.server.url}/vcek`, { service: "amd-kds" });
    expect(answer?.status).to.equal(200);
    expect(h.sleeps).to.have.length(1);
    expect(h.sleeps[0]).to.be.at.least(2000);
    expect(h.events.map((e) => e.outcome)).to.deep.equal(["rate-limited", "ok"]);
  });

  it("a service rate-limiting for longer than the cap is not asked again before then, by any caller", async () => {
    h.server.handle((_seen, res) => res.writeHead(429, { "Retry-After": "3600" }).end());
    const kds = h.client();
    const first = await serviceFailure(kds.get(`${h.server.url}/vcek/1`, { service: "amd-kds" }));
    expect(first.message).to.match(
      /answered HTTP 429 \(Retry-After asks for 3600 s, more than the 30 s waited at most\)$/,
    );
    const second = await serviceFailure(kds.get(`${h.server.url}/vcek/2`, { service: "amd-kds" }));
    expect(second.message).to.equal(
      `AMD KDS ${h.server.url}/vcek/2: rate limited: the service asked not to be asked again for 3600 s`,
    );
    expect([second.failure, second.attempts]).to.deep.equal(["rate-limited", 0]);
    expect(h.server.seen).to.have.length(1);
    // Once the time has come, it is asked again.
    h.clock += 3600_000;
    h.server.handle((_seen, res) => res.writeHead(200).end("vcek"));
    expect((await kds.get(`${h.server.url}/vcek/2`, { service: "amd-kds" }))?.status).to.equal(200);
  });

  it("concurrent callers wait for a rate-limited service instead of stampeding it", async () => {
    h.answerInTurn(
      (res) => res.writeHead(429, { "Retry-After": "1" }).end(),
      (res) => res.writeHead(200).end("chain"),
    );
    const release: (() => void)[] = [];
    const kds = h.client({
      sleep: (ms) => {
        h.sleeps.push(ms);
        return new Promise((resolve) =>
          release.push(() => {
            h.clock += ms;
            resolve();
          }),
        );
      },
    });
    const waitFor = async (condition: () => boolean) => {
      while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
    };
    const first = kds.get(`${h.server.url}/cert_chain`, { service: "amd-kds" });
    await waitFor(() => h.sleeps.length === 1);
    const second = kds.get(`${h.server.url}/cert_chain`, { service: "amd-kds" });
    await waitFor(() => h.sleeps.length === 2);
    expect(h.server.seen, "the second caller has not asked yet").to.have.length(1);
    expect(h.sleeps.every((ms) => ms >= 1000)).to.equal(true);
    for (const resume of release) resume();
    expect((await first)?.status).to.equal(200);
    expect((await second)?.status).to.equal(200);
    expect(h.server.seen).to.have.length(3);
  });

  it("does not wait past the deadline to retry a 500", async () => {
    h.server.handle((_seen, res) => res.writeHead(503).end());
    const started = Date.now();
    const error = await serviceFailure(
      createAttestationServiceClient({
        transport: h.server.transport,
        deadlineMs: 700,
        retry: { maxAttempts: 50, baseDelayMs: 100, maxDelayMs: 400 },
      }).get(`${h.server.url}/x`, { service: "intel-pcs" }),
    );
    // Real sleeps: the backoff alone (50-100, 100-200, 200-400, 200-400 ms, ...) would run far past 700 ms.
    expect(Date.now() - started).to.be.below(3000);
    expect(error.message).to.match(
      /answered HTTP 503 \(no time for another attempt before the deadline \(\d+ ms left\)\)$|the deadline \(700 ms\) passed after \d+ attempts?(; before: answered HTTP 503)?$/,
    );
    expect(error.attempts).to.be.within(1, 10);
    expect(h.server.seen.length, "the last may be cut before it arrives").to.be.within(
      error.attempts - 1,
      error.attempts,
    );
  });
});
