import { expect } from "chai";
import { request } from "node:https";
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { pino } from "pino";
import { aPod, aRequest, anAttestedCvm } from "../../test/support/builders/admission-requests.ts";
import { issueCertificate, type KeyPairPem } from "./certs/x509.ts";
import type { JwksDocument } from "./jwks.ts";
import { admissionDeadlineMs, startWebhookServer, type WebhookServer } from "./server.ts";
import type { AdmissionView } from "./validate.ts";

const log = pino({ level: "silent" });
const NOW = new Date("2026-11-25T10:00:00Z");

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  peerFingerprint: string;
}

function pki(): { ca: KeyPairPem; leaf: KeyPairPem } {
  const ca = issueCertificate({
    commonName: "test-ca",
    ca: true,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
  });
  const leaf = issueCertificate({
    commonName: "localhost",
    ca: false,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    sans: ["localhost", "127.0.0.1"],
    issuer: ca,
  });
  return { ca, leaf };
}

describe("the webhook's HTTPS server", function () {
  this.timeout(15_000);
  const { ca, leaf } = pki();
  let synced = true;
  let jwks: JwksDocument | { error: string } = { body: '{"keys":[]}', etag: '"e1"' };
  const view: AdmissionView = {
    synced: () => synced,
    cvm: (ns, name) =>
      [anAttestedCvm("llm", { expiresAt: "2026-11-25T11:00:00Z" })].find(
        (c) => c.metadata.namespace === ns && c.metadata.name === name,
      ),
    policy: () => undefined,
    policyUsers: () => [],
  };
  let server: WebhookServer;

  before(async () => {
    server = await startWebhookServer({
      address: "127.0.0.1:0",
      certificate: leaf,
      view,
      jwks: () => jwks,
      log,
      now: () => NOW,
      readiness: [{ name: "caches-synced", ready: () => synced }],
    });
  });
  after(async () => {
    await server.close();
  });

  function call(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
    trust = ca.certPem,
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: server.port, method, path, ca: trust, agent: false, headers },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
          res.on("end", () => {
            const peer = (res.socket as TLSSocket).getPeerX509Certificate();
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: text,
              peerFingerprint: peer?.fingerprint256 ?? "",
            });
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }
  const review = (req: unknown): string =>
    JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: req });
  const post = (body: string, path = "/validate/workloads?timeout=10s") =>
    call("POST", path, body, { "content-type": "application/json" });

  it("answers an AdmissionReview with the uid echoed: allowed for an attested CVM", async () => {
    const reply = await post(review(aRequest("Pod", aPod("llm"))));
    expect(reply.status).to.equal(200);
    expect(JSON.parse(reply.body)).to.deep.equal({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "705ab4f5-6393-11e8-b7cc-42010a800002", allowed: true },
    });
  });

  it("denies a Pod for a missing CVM with a 403 status and the reason", async () => {
    const reply = JSON.parse((await post(review(aRequest("Pod", aPod("nope"))))).body) as {
      response: { allowed: boolean; status: { code: number; message: string } };
    };
    expect(reply.response.allowed).to.equal(false);
    expect(reply.response.status.code).to.equal(403);
    expect(reply.response.status.message).to.include("ConfidentialVM team-a/nope not found");
  });

  it("refuses with 503 in the review while caches are not synced", async () => {
    synced = false;
    try {
      const reply = JSON.parse((await post(review(aRequest("Pod", aPod())))).body) as {
        response: { allowed: boolean; status: { code: number } };
      };
      expect(reply.response).to.deep.include({ allowed: false });
      expect(reply.response.status.code).to.equal(503);
      expect((await call("GET", "/readyz")).status).to.equal(503);
    } finally {
      synced = true;
    }
    expect((await call("GET", "/readyz")).body).to.include("readyz check passed");
  });

  it("turns malformed requests into clear errors, never a crash", async () => {
    expect(await post("{not json")).to.include({ status: 400, body: "the body is not JSON\n" });
    expect((await post(JSON.stringify({ kind: "Pod" }))).status).to.equal(400);
    expect((await post(review({ uid: "" }))).body).to.equal("the AdmissionReview request has no uid\n");
    const withUid = JSON.parse((await post(review({ uid: "u1", kind: {} }))).body) as {
      response: { uid: string; allowed: boolean; status: { code: number; message: string } };
    };
    expect(withUid.response).to.deep.include({ uid: "u1", allowed: false });
    expect(withUid.response.status).to.include({
      code: 400,
      message: "trustgate: malformed AdmissionReview: request.kind is missing",
    });
    expect((await call("GET", "/validate/workloads")).status).to.equal(405);
    expect(
      (await call("POST", "/validate/workloads", "{}", { "content-type": "text/plain" })).status,
    ).to.equal(415);
    expect((await call("GET", "/nope")).status).to.equal(404);
    expect((await call("GET", "/healthz")).body).to.equal("ok\n");
  });

  it("gives up on a body that does not arrive before the review's timeout", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: server.port,
          method: "POST",
          path: "/validate/workloads?timeout=1s",
          ca: ca.certPem,
          agent: false,
          headers: { "content-type": "application/json", "content-length": "100" },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.write("{");
    });
    expect(status).to.equal(504);
  });

  it("refuses a body larger than 8 MiB with 413", async () => {
    // One byte over: the server has read all of it when it answers, so its closing the connection cannot cut the answer.
    const size = 8 * 1024 * 1024 + 1;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: server.port,
          method: "POST",
          path: "/validate/workloads",
          ca: ca.certPem,
          agent: false,
          headers: { "content-type": "application/json", "content-length": String(size) },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end(Buffer.alloc(size, 0x20));
    });
    expect(status).to.equal(413);
  });

  it("serves the JWKS with a short max-age and an ETag, 304 on a match, 503 without one", async () => {
    const first = await call("GET", "/.well-known/jwks.json");
    expect(first).to.include({ status: 200, body: '{"keys":[]}' });
    expect(first.headers).to.include({
      etag: '"e1"',
      "cache-control": "public, max-age=60",
      "content-type": "application/jwk-set+json",
    });
    expect(
      (await call("GET", "/.well-known/jwks.json", undefined, { "if-none-match": '"e1"' })).status,
    ).to.equal(304);
    jwks = { error: "the JWKS ConfigMap does not exist (yet)" };
    const missing = await call("GET", "/.well-known/jwks.json");
    expect(missing).to.include({ status: 503 });
    expect(missing.body).to.include("the JWKS ConfigMap does not exist (yet)");
  });

  it("serves a new certificate without a restart and refuses a broken one", async () => {
    const before = await call("GET", "/healthz");
    expect(before.peerFingerprint).to.equal(new X509Certificate(leaf.certPem).fingerprint256);
    const next = pki();
    server.setCertificate(next.leaf);
    const after = await call("GET", "/healthz", undefined, {}, next.ca.certPem);
    expect(after.peerFingerprint).to.equal(new X509Certificate(next.leaf.certPem).fingerprint256);
    server.setCertificate({ certPem: next.leaf.certPem, keyPem: leaf.keyPem });
    const kept = await call("GET", "/healthz", undefined, {}, next.ca.certPem);
    expect(kept.peerFingerprint, "the mismatched pair was not loaded").to.equal(after.peerFingerprint);
    await call("GET", "/healthz").then(
      () => expect.fail("the old CA must not verify the new certificate"),
      (error: unknown) => expect((error as Error).message).to.match(/certificate/),
    );
  });
});

describe("admissionDeadlineMs", () => {
  const cases: [string | null, number][] = [
    [null, 9_750],
    ["10s", 9_750],
    ["2s", 1_750],
    ["1m", 29_750],
    ["100ms", 100],
    ["bogus", 9_750],
  ];
  for (const [param, want] of cases) {
    it(`${String(param)} -> ${String(want)} ms`, () => {
      expect(admissionDeadlineMs(param)).to.equal(want);
    });
  }
});
