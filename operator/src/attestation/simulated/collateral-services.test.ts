import { expect } from "chai";
import { request } from "node:https";
import { httpsTransport } from "../../http/transport.ts";
import { readBody } from "../../http/read-body.ts";
import { startSimulatedCollateralServices, type SimulatedCollateralServices } from "./collateral-services.ts";
import { generateSimPki } from "./sim-pki.ts";
import { SIMULATED_TDX_FMSPC } from "./tdx-platform.ts";

const TCB = `/tdx/certification/v4/tcb?fmspc=${SIMULATED_TDX_FMSPC}`;

describe("simulated collateral services over HTTPS", function () {
  this.timeout(30_000);
  let services: SimulatedCollateralServices;
  let get: (path: string) => Promise<Response>;

  before(async () => {
    services = await startSimulatedCollateralServices({ pki: await generateSimPki() });
    const transport = httpsTransport({ caPem: services.caPem, proxyEnv: null });
    get = async (path) => {
      const answer = await transport({
        method: "GET",
        url: new URL(`${services.url}${path}`),
        headers: {},
        signal: AbortSignal.timeout(10_000),
      });
      const body = await readBody(answer.body, { maxBytes: 1024 * 1024 });
      return new Response(answer.status === 204 || answer.status === 304 ? null : body, {
        status: answer.status,
        headers: answer.headers,
      });
    };
  });

  after(async () => {
    await services.close();
  });

  afterEach(() => {
    services.clearFaults();
  });

  it("listens on 127.0.0.1 with a certificate that only its own CA makes trusted", async () => {
    expect(services.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(services.rootCaCrlUrl).to.equal(`${services.url}/sgx/certification/v4/rootcacrl`);
    const response = await get(TCB);
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.equal("application/json");
    expect(response.headers.get("tcb-info-issuer-chain")).to.include("BEGIN%20CERTIFICATE");
    let error: unknown;
    await globalThis.fetch(`${services.url}${TCB}`).catch((e: unknown) => (error = e));
    expect(error, "the system trust store does not know the services' CA").to.be.instanceOf(Error);
  });

  it("counts requests per path, whatever the query", async () => {
    const before = services.requestCount("/tdx/certification/v4/qe/identity");
    await get("/tdx/certification/v4/qe/identity");
    await get("/tdx/certification/v4/qe/identity?update=early");
    expect(services.requestCount("/tdx/certification/v4/qe/identity")).to.equal(before + 2);
    expect(services.seen.at(-1)).to.deep.equal({
      method: "GET",
      path: "/tdx/certification/v4/qe/identity?update=early",
    });
  });

  it("answers 404 to unknown paths and 405 to anything but GET and HEAD", async () => {
    expect((await get("/sgx/certification/v4/pckcert")).status).to.equal(404);
    // httpsFetchTrusting sends GET only.
    const statusOf = (method: string): Promise<number | undefined> =>
      new Promise((resolve, reject) => {
        const req = request(`${services.url}${TCB}`, { method, ca: services.caPem }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await statusOf("HEAD")).to.equal(200);
    expect(await statusOf("POST")).to.equal(405);
  });

  it("injects a status for a path prefix, a set number of times", async () => {
    services.injectFault({ pathPrefix: "/tdx/", status: 503, times: 2 });
    expect((await get(TCB)).status).to.equal(503);
    expect((await get("/tdx/certification/v4/qe/identity")).status).to.equal(503);
    expect((await get(TCB)).status).to.equal(200);
  });

  it("injects garbage, and a delay, until the fault is removed", async () => {
    const remove = services.injectFault({ pathPrefix: "/vcek/v1/", body: "not a certificate" });
    const garbage = await get("/vcek/v1/Genoa/cert_chain");
    expect([garbage.status, await garbage.text()]).to.deep.equal([200, "not a certificate"]);
    remove();
    expect(await (await get("/vcek/v1/Genoa/cert_chain")).text()).to.include("BEGIN CERTIFICATE");
    services.injectFault({ pathPrefix: "/sgx/certification/v4/rootcacrl", delayMs: 300 });
    const started = Date.now();
    const slow = await get("/sgx/certification/v4/rootcacrl");
    expect(slow.status).to.equal(200);
    expect(Date.now() - started).to.be.at.least(290);
  });
});
