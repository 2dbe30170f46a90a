import { expect } from "chai";
import { startLocalHttps, type LocalHttps } from "../../../../test/support/fakes/local-https.ts";
import {
  makeTestNras,
  sampleGpuClaims,
  signDetachedEat,
} from "../../../../test/support/fakes/nras-tokens.ts";
import { SHARED_GPU_ITEMS, sharedGpuEntry } from "../../../../test/fixtures/nvidia/shared-items.ts";
import {
  createAttestationServiceClient,
  type ServiceRequestEvent,
} from "../../collateral/attestation-service-client.ts";
import { MEASUREMENTS_UNCHECKED } from "../checks.ts";
import { createLocalGpuVerifier } from "../verifier.ts";
import { createNrasAppraiser } from "./remote.ts";

const shared = SHARED_GPU_ITEMS.find((i) => i.item === "nvtrust-hopper-550");
if (shared === undefined) throw new Error("missing nvtrust-hopper-550");
const entry = sharedGpuEntry(shared);
const nras = await makeTestNras();

describe("remote mode: NRAS over HTTPS (a local server answering with tokens signed by a test key)", function () {
  this.timeout(20_000);
  let server: LocalHttps;
  let claims: Record<string, unknown>;
  let status = 200;
  let events: ServiceRequestEvent[] = [];

  before(async () => {
    server = await startLocalHttps();
    server.handle((seen, res) => {
      if (seen.method === "GET" && seen.path === "/.well-known/jwks.json") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(nras.jwks));
        return;
      }
      if (seen.method !== "POST" || seen.path !== "/v3/attest/gpu" || status !== 200) {
        res.writeHead(status === 200 ? 404 : status).end();
        return;
      }
      const body = JSON.parse(seen.body.toString("utf8")) as { nonce: string; evidence_list: unknown[] };
      const submods = Object.fromEntries(body.evidence_list.map((_e, k) => [`GPU-${k}`, claims]));
      void signDetachedEat(nras, { nonce: body.nonce, submods }).then((eat) => {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(eat));
      });
    });
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    claims = { ...sampleGpuClaims(), ueid: shared.facts.ueid };
    status = 200;
    events = [];
    server.seen.length = 0;
  });

  function verifier() {
    return createLocalGpuVerifier({
      measurements: MEASUREMENTS_UNCHECKED,
      remote: createNrasAppraiser({
        client: createAttestationServiceClient({
          transport: server.transport,
          retry: { maxAttempts: 2 },
          sleep: () => Promise.resolve(),
        }),
        onRequest: (event) => events.push(event),
      }),
    });
  }
  const sources = () => ({ mode: "remote" as const, nrasUrl: server.url, allowCertificateHold: false });

  it("sends the authentic evidence with its nonce and takes measurements and revocation from the verified EAT", async () => {
    const [result] = await verifier().verify([entry], { now: new Date(), sources: sources() });
    expect(result?.errors).to.deep.equal([]);
    expect([result?.authentic, result?.measurements, result?.revocation]).to.deep.equal([
      true,
      "match",
      "good",
    ]);
    const post = server.seen.find((s) => s.method === "POST");
    const body = JSON.parse(post?.body.toString("utf8") ?? "{}") as Record<string, unknown>;
    expect(post?.contentType).to.equal("application/json");
    expect(body["nonce"]).to.equal(shared.facts.nonce);
    expect(body["arch"]).to.equal("HOPPER");
    expect(body["evidence_list"]).to.deep.equal([
      { evidence: entry.evidence, certificate: Buffer.from(entry.certChain).toString("base64") },
    ]);
    expect(events.map((e) => [e.service, e.outcome, e.status])).to.deep.equal([
      ["nvidia-nras", "ok", 200],
      ["nvidia-nras", "ok", 200],
    ]);
  });

  it("NRAS reporting a measurement failure and a revoked RIM certificate: mismatch, revoked", async () => {
    claims = {
      ...claims,
      measres: "fail",
      "x-nvidia-gpu-driver-rim-cert-chain": {
        "x-nvidia-cert-status": "valid",
        "x-nvidia-cert-ocsp-status": "revoked",
        "x-nvidia-cert-revocation-reason": "keyCompromise",
      },
    };
    const [result] = await verifier().verify([entry], { now: new Date(), sources: sources() });
    expect([result?.measurements, result?.revocation]).to.deep.equal(["mismatch", "revoked"]);
    expect(result?.errors.map((e) => e.code)).to.deep.equal(["MeasurementMismatch", "CertificateRevoked"]);
  });

  it("a token about another device (ueid) or driver is BindingMismatch", async () => {
    claims = { ...claims, ueid: "1", "x-nvidia-gpu-driver-version": "535.104.05" };
    const [result] = await verifier().verify([entry], { now: new Date(), sources: sources() });
    expect(result?.errors.map((e) => e.code)).to.deep.equal(["BindingMismatch", "BindingMismatch"]);
  });

  it("NRAS unavailable: measurements and revocation unchecked, RimUnavailable and CollateralUnavailable", async () => {
    status = 503;
    const [result] = await verifier().verify([entry], { now: new Date(), sources: sources() });
    expect([result?.authentic, result?.measurements, result?.revocation]).to.deep.equal([
      true,
      "unchecked",
      "unchecked",
    ]);
    expect(result?.errors.map((e) => e.code)).to.deep.equal(["RimUnavailable", "CollateralUnavailable"]);
    expect(result?.errors[1]?.message).to.equal(
      `revocation not checked: NVIDIA NRAS ${server.url}/v3/attest/gpu: answered HTTP 503 (after 2 attempts)`,
    );
    expect(
      server.seen.filter((s) => s.method === "POST"),
      "retried once",
    ).to.have.length(2);
  });

  it("local mode never calls NRAS", async () => {
    const before = server.seen.length;
    const [result] = await verifier().verify([entry], {
      now: new Date(),
      sources: { mode: "local", nrasUrl: server.url, allowCertificateHold: false },
    });
    expect(result?.revocation).to.equal("unchecked");
    expect(server.seen.length).to.equal(before);
  });
});
