/**
 * The attestation service client against a real local HTTPS server (its own test CA, TLS verification on): answers,
 * the size cap, timeouts and deadlines, POST, redirects, the observer, bad input, and credentials kept out of every
 * message. Retries and rate limits: attestation-service-retry.test.ts.
 */
import { expect } from "chai";
import {
  serviceFailure,
  startServiceClientHarness,
  type ServiceClientHarness,
} from "../../../test/support/fakes/service-client-harness.ts";
import { startLocalHttps } from "../../../test/support/fakes/local-https.ts";
import { httpsTransport } from "../../http/transport.ts";
import { createAttestationServiceClient } from "./attestation-service-client.ts";

describe("attestation service client (real HTTPS on 127.0.0.1)", function () {
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

  it("answers status, headers and body; 404 is 'not found'", async () => {
    h.server.handle((seen, res) => {
      if (seen.path === "/tcb") res.writeHead(200, { "TCB-Info-Issuer-Chain": "chain%20pem" }).end("{}");
      else res.writeHead(404).end("no such thing");
    });
    const answer = await h.client().get(`${h.server.url}/tcb`, { service: "intel-pcs" });
    expect(answer?.status).to.equal(200);
    expect(answer?.headers.get("tcb-info-issuer-chain")).to.equal("chain%20pem");
    expect(Buffer.from(answer?.body ?? []).toString()).to.equal("{}");
    expect(await h.client().get(`${h.server.url}/other`, { service: "intel-pcs" })).to.equal(undefined);
    expect(h.events.map((e) => [e.service, e.outcome, e.status, e.attempt, e.final])).to.deep.equal([
      ["intel-pcs", "ok", 200, 1, true],
      ["intel-pcs", "not-found", 404, 1, true],
    ]);
    expect(h.events.every((e) => e.seconds >= 0 && e.seconds < 10)).to.equal(true);
    expect(h.server.seen[0]?.headers["user-agent"]).to.match(/^trustgate\//);
  });

  it("refuses an answer over the size cap: by Content-Length before reading, else at the first byte over", async () => {
    let closed: Promise<void> = Promise.resolve();
    h.server.handle((seen, res) => {
      if (seen.path === "/declared") {
        res.writeHead(200, { "content-length": "5000" }).end("x".repeat(5000));
        return;
      }
      res.writeHead(200);
      const timer = setInterval(() => res.write(Buffer.alloc(1024, 0x41)), 1);
      closed = new Promise((resolve) =>
        res.on("close", () => {
          clearInterval(timer);
          resolve();
        }),
      );
    });
    const declared = await serviceFailure(
      h.client().get(`${h.server.url}/declared`, { service: "amd-kds", maxBytes: 100 }),
    );
    expect(declared.message).to.equal(
      `AMD KDS ${h.server.url}/declared: the answer is larger than 100 bytes (Content-Length 5000)`,
    );
    const endless = await serviceFailure(
      h.client().get(`${h.server.url}/endless`, { service: "intel-pcs", maxBytes: 10_000 }),
    );
    expect(endless.message).to.equal(
      `Intel PCS ${h.server.url}/endless: the answer is larger than 10000 bytes`,
    );
    expect(endless.failure).to.equal("too-large");
    await closed; // the server saw the transfer end: it was aborted, not read to its end
    expect(h.server.seen, "not retried").to.have.length(2);
    expect(h.events.map((e) => e.outcome)).to.deep.equal(["too-large", "too-large"]);
  });

  it("times out a silent server, naming the URL, and stops at the deadline", async () => {
    h.server.handle(() => undefined);
    const slow = await serviceFailure(
      h.client({ timeoutMs: 150, retry: { maxAttempts: 2 } }).get(`${h.server.url}/slow`, {
        service: "nvidia-rim",
      }),
    );
    expect(slow.message).to.equal(
      `NVIDIA RIM service ${h.server.url}/slow: no answer within 150 ms (after 2 attempts)`,
    );
    expect(h.events.map((e) => [e.outcome, e.final])).to.deep.equal([
      ["timeout", false],
      ["timeout", true],
    ]);

    const started = Date.now();
    const deadline = await serviceFailure(
      h.client({ deadlineMs: 200 }).get(`${h.server.url}/slow`, { service: "amd-kds" }),
    );
    expect(deadline.message).to.equal(
      `AMD KDS ${h.server.url}/slow: the deadline (200 ms) passed after 1 attempt`,
    );
    expect(Date.now() - started).to.be.below(2000);

    const callers = await serviceFailure(
      h.client().get(`${h.server.url}/slow`, { service: "amd-kds", signal: AbortSignal.timeout(100) }),
    );
    expect(callers.message).to.equal(
      `AMD KDS ${h.server.url}/slow: the caller's deadline passed after 1 attempt`,
    );
    expect(callers.failure).to.equal("deadline");

    const controller = new AbortController();
    setTimeout(() => {
      controller.abort(new Error("shutting down"));
    }, 50);
    const aborted = await serviceFailure(
      h.client().get(`${h.server.url}/slow`, { service: "amd-kds", signal: controller.signal }),
    );
    expect(aborted.message).to.equal(
      `AMD KDS ${h.server.url}/slow: the caller gave up (shutting down) after 1 attempt`,
    );
  });

  it("POSTs with a content type; any non-2xx answer to a POST is an error", async () => {
    h.server.handle((seen, res) => {
      if (seen.path === "/ocsp") res.writeHead(200).end(Buffer.concat([Buffer.from("re:"), seen.body]));
      else res.writeHead(404).end();
    });
    const answer = await h.client().post(`${h.server.url}/ocsp`, Uint8Array.of(1, 2, 3), {
      service: "nvidia-ocsp",
      contentType: "application/ocsp-request",
    });
    expect(Buffer.from(answer.body)).to.deep.equal(Buffer.from([0x72, 0x65, 0x3a, 1, 2, 3]));
    expect(h.server.seen[0]).to.deep.include({ method: "POST", contentType: "application/ocsp-request" });
    const missing = await serviceFailure(
      h
        .client()
        .post(`${h.server.url}/nope`, "{}", { service: "nvidia-nras", contentType: "application/json" }),
    );
    expect(missing.message).to.equal(`NVIDIA NRAS ${h.server.url}/nope: answered HTTP 404`);
  });

  it("follows https redirects for GET, not to http and not for POST", async () => {
    h.server.handle((seen, res) => {
      if (seen.path === "/old") res.writeHead(302, { location: "/new" }).end();
      else if (seen.path === "/insecure") res.writeHead(301, { location: "http://127.0.0.1/new" }).end();
      else if (seen.path === "/loop") res.writeHead(307, { location: "/loop" }).end();
      else res.writeHead(200).end(seen.method);
    });
    expect(
      Buffer.from(
        (await h.client().get(`${h.server.url}/old`, { service: "nvidia-rim" }))?.body ?? [],
      ).toString(),
    ).to.equal("GET");
    const insecure = await serviceFailure(
      h.client().get(`${h.server.url}/insecure`, { service: "nvidia-rim" }),
    );
    expect(insecure.message).to.equal(
      `NVIDIA RIM service ${h.server.url}/insecure: answered HTTP 301 to http://127.0.0.1/new (not followed: not to an https URL)`,
    );
    expect(
      (await serviceFailure(h.client().get(`${h.server.url}/loop`, { service: "nvidia-rim" }))).message,
    ).to.match(/answered HTTP 307 to .*\/loop \(not followed: more than 3 redirects\)$/);
    const posted = await serviceFailure(
      h
        .client()
        .post(`${h.server.url}/old`, "{}", { service: "nvidia-nras", contentType: "application/json" }),
    );
    expect(posted.message).to.match(/not followed: redirects are followed for GET only\)$/);
  });

  it("keeps the API key out of every message and event, and from another origin", async () => {
    const apiKey = "0123456789abcdef0123456789abcdef";
    const other = await startLocalHttps();
    try {
      other.handle((_seen, res) => res.writeHead(200).end("moved here"));
      h.server.handle((seen, res) => {
        if (seen.path === "/moved") res.writeHead(302, { location: `${other.url}/x` }).end();
        else res.writeHead(401).end(`Access denied due to invalid subscription key ${apiKey}.`);
      });
      const both = createAttestationServiceClient({
        transport: httpsTransport({ caPem: h.server.caPem + other.caPem, proxyEnv: null }),
        onRequest: (event) => h.events.push(event),
      });
      const headers = { "Ocp-Apim-Subscription-Key": apiKey };
      const denied = await serviceFailure(both.get(`${h.server.url}/tcb`, { service: "intel-pcs", headers }));
      expect(h.server.seen[0]?.headers["ocp-apim-subscription-key"], "the key is sent").to.equal(apiKey);
      expect(denied.message).to.equal(
        `Intel PCS ${h.server.url}/tcb: answered HTTP 401 "Access denied due to invalid subscription key [redacted]."`,
      );
      expect(await both.get(`${h.server.url}/moved`, { service: "intel-pcs", headers })).to.have.property(
        "status",
        200,
      );
      expect(other.seen[0]?.headers, "not carried to another origin").to.not.have.property(
        "ocp-apim-subscription-key",
      );
      const everything = JSON.stringify([denied, denied.message, denied.stack, h.events]);
      expect(everything).to.not.include(apiKey);
    } finally {
      await other.close();
    }
  });

  it("refuses bad input with errors naming it, before any request", async () => {
    const http = await serviceFailure(h.client().get("http://pcs.example/x", { service: "intel-pcs" }));
    expect(http.message).to.equal(
      "Intel PCS http://pcs.example/x: not https (attestation services are asked over https only)",
    );
    expect((await serviceFailure(h.client().get("not a url", { service: "amd-kds" }))).message).to.equal(
      'AMD KDS "not a url": not a URL',
    );
    const bad = h.client();
    for (const [call, message] of [
      [
        () => bad.get(`${h.server.url}/x`, { service: "intel-pcs", maxBytes: 0 }),
        /maxBytes must be a positive integer, got 0/,
      ],
      [
        () => bad.get(`${h.server.url}/x`, { service: "intel-pcs", timeoutMs: -1 }),
        /timeoutMs must be a positive number, got -1/,
      ],
      [
        () => bad.get(`${h.server.url}/x`, { service: "intel-pcs", headers: { "x-api-key": "a\r\nb" } }),
        /header "x-api-key" is not a valid HTTP header/,
      ],
    ] as const)
      expect(
        await call().then(
          () => undefined,
          (error: unknown) => (error as Error).message,
        ),
      ).to.match(message);
    expect(() => createAttestationServiceClient({ retry: { maxAttempts: 0 } })).to.throw(/retry.maxAttempts/);
    expect(h.server.seen).to.have.length(0);
  });

  it("a throwing observer does not fail the request", async () => {
    h.server.handle((_seen, res) => res.writeHead(200).end("ok"));
    const answer = await h
      .client({
        onRequest: () => {
          throw new Error("metrics broke");
        },
      })
      .get(`${h.server.url}/x`, { service: "nvidia-nras" });
    expect(answer?.status).to.equal(200);
  });
});
