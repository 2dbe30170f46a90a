import { expect } from "chai";
import { join } from "node:path";
import { FIXTURE_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import { pcsItems } from "../../../test/fixtures/tdx/pcs-items.ts";
import { tdxTeeFromItem, withoutCollateral } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { tdxVerifier } from "../tdx/verifier.ts";
import { EvidenceError } from "../types.ts";
import { fetchTransport } from "../../http/transport.ts";
import { createAttestationServiceClient, type ServiceRequestEvent } from "./attestation-service-client.ts";
import { createIntelPcsSource } from "./intel-pcs-source.ts";
import * as kinds from "./kinds.ts";

const tee = tdxTeeFromItem(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4"));
const items = pcsItems(tee, "b0c06f000000");
const itemBytes = (kind: string): Uint8Array =>
  items.find((item) => item.kind === kind)?.bytes ?? new Uint8Array();
const text = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString("utf8");

/** The production client over a fake fetch, one attempt per request (no retry waits). */
const clientOver = (fetch: typeof globalThis.fetch) =>
  createAttestationServiceClient({ transport: fetchTransport(fetch), retry: { maxAttempts: 1 } });

/** A fake PCS: routes by path, answers with Intel's headers, records every request. */
function fakePcs(): { fetch: typeof globalThis.fetch; requests: string[]; headers: Headers[] } {
  const requests: string[] = [];
  const headers: Headers[] = [];
  const respond = (body: Uint8Array, chainHeader: string, chainKind: string): Response =>
    new Response(Buffer.from(body), {
      headers: { [chainHeader]: encodeURIComponent(text(itemBytes(chainKind))) },
    });
  const fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    requests.push(`${url.pathname}${url.search}`);
    headers.push(new Headers(init?.headers));
    if (url.pathname === "/tdx/certification/v4/tcb" && url.searchParams.get("fmspc") === "b0c06f000000") {
      return Promise.resolve(
        respond(itemBytes(kinds.TDX_TCB_INFO), "TCB-Info-Issuer-Chain", kinds.TDX_TCB_INFO_ISSUER_CHAIN),
      );
    }
    if (url.pathname === "/tdx/certification/v4/qe/identity") {
      return Promise.resolve(
        respond(
          itemBytes(kinds.TDX_QE_IDENTITY),
          "SGX-Enclave-Identity-Issuer-Chain",
          kinds.TDX_QE_IDENTITY_ISSUER_CHAIN,
        ),
      );
    }
    if (url.pathname === "/sgx/certification/v4/pckcrl" && url.searchParams.get("ca") === "platform") {
      return Promise.resolve(
        respond(itemBytes(kinds.SGX_PCK_CRL), "SGX-PCK-CRL-Issuer-Chain", kinds.SGX_PCK_CRL_ISSUER_CHAIN),
      );
    }
    if (url.pathname === "/IntelSGXRootCA.der") {
      return Promise.resolve(new Response(Buffer.from(itemBytes(kinds.SGX_ROOT_CA_CRL))));
    }
    if (url.pathname === "/broken") return Promise.resolve(new Response("oops", { status: 503 }));
    if (url.pathname === "/keyed")
      return Promise.resolve(
        new Response(`bad key ${new Headers(init?.headers).get("ocp-apim-subscription-key") ?? ""}`, {
          status: 401,
        }),
      );
    return Promise.resolve(new Response("not found", { status: 404 }));
  };
  return { fetch, requests, headers };
}

describe("createIntelPcsSource", () => {
  it("asks the PCS v4 paths and decodes the issuer-chain headers; one request serves item and chain", async () => {
    const pcs = fakePcs();
    const source = createIntelPcsSource({
      baseUrl: "https://pcs.test",
      rootCaCrlUrl: "https://certs.test/IntelSGXRootCA.der",
      client: clientOver(pcs.fetch),
      update: "early",
    });
    expect(text(await source.get(kinds.TDX_TCB_INFO, "b0c06f000000"))).to.match(/^\{"tcbInfo":\{"id":"TDX"/);
    expect(text(await source.get(kinds.TDX_TCB_INFO_ISSUER_CHAIN, "b0c06f000000"))).to.match(
      /^-----BEGIN CERTIFICATE-----/,
    );
    expect(text(await source.get(kinds.SGX_PCK_CRL_ISSUER_CHAIN, "platform"))).to.match(
      /^-----BEGIN CERTIFICATE-----/,
    );
    expect((await source.get(kinds.SGX_ROOT_CA_CRL, "root"))?.[0]).to.equal(0x30);
    expect(pcs.requests).to.deep.equal([
      "/tdx/certification/v4/tcb?fmspc=b0c06f000000&update=early",
      "/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
      "/IntelSGXRootCA.der",
    ]);
  });

  it("asks for Intel's TDX TCB evaluation data numbers (without an update query) and their issuer chain header", async () => {
    const requests: string[] = [];
    const fetch = (input: string | URL | Request): Promise<Response> => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      requests.push(`${url.pathname}${url.search}`);
      return Promise.resolve(
        new Response('{"tcbEvaluationDataNumbers":{}}', {
          headers: {
            "TCB-Evaluation-Data-Numbers-Issuer-Chain": encodeURIComponent("-----BEGIN CERTIFICATE-----\n"),
          },
        }),
      );
    };
    const source = createIntelPcsSource({
      baseUrl: "https://pcs.test",
      client: clientOver(fetch),
      update: "early",
    });
    expect(text(await source.get(kinds.TCB_EVALUATION_NUMBERS, kinds.TDX_EVALUATION_NUMBERS_KEY))).to.match(
      /^\{"tcbEvaluationDataNumbers"/,
    );
    expect(text(await source.get(kinds.TCB_EVALUATION_NUMBERS_ISSUER_CHAIN, "tdx"))).to.equal(
      "-----BEGIN CERTIFICATE-----\n",
    );
    expect(await source.get(kinds.TCB_EVALUATION_NUMBERS, "sgx")).to.equal(undefined);
    expect(requests).to.deep.equal(["/tdx/certification/v4/tcbevaluationdatanumbers"]);
  });

  it("answers undefined for 404s, bad keys and unknown kinds without asking for bad keys", async () => {
    const pcs = fakePcs();
    const source = createIntelPcsSource({ baseUrl: "https://pcs.test", client: clientOver(pcs.fetch) });
    expect(await source.get(kinds.TDX_TCB_INFO, "00906ed50000")).to.equal(undefined);
    expect(await source.get(kinds.TDX_TCB_INFO, "../../etc")).to.equal(undefined);
    expect(await source.get(kinds.SGX_PCK_CRL, "nonsense")).to.equal(undefined);
    expect(await source.get("snp-vcek", "Genoa/x")).to.equal(undefined);
    expect(pcs.requests).to.deep.equal(["/tdx/certification/v4/tcb?fmspc=00906ed50000"]);
  });

  it("turns server errors and unreachable hosts into CollateralUnavailable", async () => {
    const failing = createIntelPcsSource({
      rootCaCrlUrl: "https://pcs.test/broken",
      client: clientOver(fakePcs().fetch),
    });
    const down = createIntelPcsSource({
      client: clientOver(() => Promise.reject(new Error("ECONNREFUSED"))),
    });
    for (const request of [
      failing.get(kinds.SGX_ROOT_CA_CRL, "root"),
      down.get(kinds.TDX_QE_IDENTITY, "td_qe"),
    ]) {
      const error: unknown = await request.then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).to.be.instanceOf(EvidenceError);
      expect((error as EvidenceError).code).to.equal("CollateralUnavailable");
    }
  });

  it("completes a bare bundle to the same verdict, and reports an unreachable PCS", async () => {
    const bare = withoutCollateral(tee);
    const now = new Date("2025-07-01T00:00:00Z");
    const source = createIntelPcsSource({
      baseUrl: "https://pcs.test",
      rootCaCrlUrl: "https://certs.test/IntelSGXRootCA.der",
      client: clientOver(fakePcs().fetch),
    });
    const result = await tdxVerifier.verify(bare, { now, collateral: source });
    expect(result.errors).to.deep.equal([]);
    expect(result.tcbStatus).to.equal("UpToDate");

    const down = createIntelPcsSource({
      client: clientOver(() => Promise.reject(new Error("ECONNREFUSED"))),
    });
    const offline = await tdxVerifier.verify(bare, { now, collateral: down });
    expect(offline.authentic).to.equal(true);
    expect(offline.tcbStatus).to.equal("Unknown");
    expect(new Set(offline.errors.map((error) => error.code))).to.deep.equal(
      new Set(["CollateralUnavailable", "CollateralMissing"]),
    );
  });

  it("sends the API key in its header, never in a message, and reports each request to the observer", async () => {
    const pcs = fakePcs();
    const events: ServiceRequestEvent[] = [];
    const apiKey = "f00dfeedf00dfeedf00dfeedf00dfeed";
    const source = createIntelPcsSource({
      baseUrl: "https://pcs.test",
      rootCaCrlUrl: "https://pcs.test/keyed",
      client: clientOver(pcs.fetch),
      apiKey,
      onRequest: (event) => events.push(event),
    });
    expect(await source.get(kinds.TDX_QE_IDENTITY, kinds.TD_QE_KEY)).to.have.length.above(0);
    const error: unknown = await source.get(kinds.SGX_ROOT_CA_CRL, kinds.ROOT_CA_KEY).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(pcs.headers.map((h) => h.get("ocp-apim-subscription-key"))).to.deep.equal([apiKey, apiKey]);
    expect((error as Error).message).to.equal(
      'Intel PCS https://pcs.test/keyed: answered HTTP 401 "bad key [redacted]"',
    );
    expect(events.map((e) => [e.service, e.outcome, e.status])).to.deep.equal([
      ["intel-pcs", "ok", 200],
      ["intel-pcs", "http-error", 401],
    ]);
  });
});
