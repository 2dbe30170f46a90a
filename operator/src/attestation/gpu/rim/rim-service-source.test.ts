import { expect } from "chai";
import { startLocalHttps, type LocalHttps } from "../../../../test/support/fakes/local-https.ts";
import {
  createAttestationServiceClient,
  type ServiceRequestEvent,
} from "../../collateral/attestation-service-client.ts";
import { EvidenceError } from "../../types.ts";
import { rimServiceSource } from "./rim-source.ts";

const RIM_XML = '<?xml version="1.0"?><SoftwareIdentity name="NV_GPU_DRIVER_GH100_550.90.07"/>';

describe("NVIDIA RIM service source (real HTTPS on 127.0.0.1)", function () {
  this.timeout(20_000);
  let server: LocalHttps;
  let events: ServiceRequestEvent[];

  before(async () => {
    server = await startLocalHttps();
    server.handle((seen, res) => {
      const id = decodeURIComponent(seen.path.replace(/^\/base\/v1\/rim\//, ""));
      if (id === "NV_JSON")
        res.writeHead(200).end(JSON.stringify({ id, rim: Buffer.from(RIM_XML).toString("base64") }));
      else if (id === "NV_XML") res.writeHead(200).end(RIM_XML);
      else if (id === "NV_GARBAGE") res.writeHead(200).end("\u0000\u0001 garbage");
      else if (id === "NV_HUGE") res.writeHead(200).end(Buffer.alloc(2 * 1024 * 1024, 0x41));
      else if (id === "NV_DOWN") res.writeHead(500).end("maintenance");
      else res.writeHead(404).end();
    });
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    events = [];
  });

  const source = () =>
    rimServiceSource({
      url: `${server.url}/base`,
      client: createAttestationServiceClient({ transport: server.transport, retry: { maxAttempts: 1 } }),
      onRequest: (event) => events.push(event),
    });

  async function rimUnavailable(id: string): Promise<string> {
    const error: unknown = await source()
      .get(id)
      .then(
        () => expect.fail(`${id} answered`),
        (reason: unknown) => reason,
      );
    expect(error).to.be.instanceOf(EvidenceError);
    expect((error as EvidenceError).code).to.equal("RimUnavailable");
    return (error as Error).message;
  }

  it("takes the RIM from the service's JSON or a bare XML body; 404 is 'not there'", async () => {
    expect(await source().get("NV_JSON")).to.equal(RIM_XML);
    expect(await source().get("NV_XML")).to.equal(RIM_XML);
    expect(await source().get("NV_MISSING")).to.equal(undefined);
    expect(await source().get("../etc/passwd"), "not a RIM ID: not asked").to.equal(undefined);
    expect(events.map((e) => [e.service, e.outcome])).to.deep.equal([
      ["nvidia-rim", "ok"],
      ["nvidia-rim", "ok"],
      ["nvidia-rim", "not-found"],
    ]);
  });

  it("a failing service, garbage or an oversized answer is RimUnavailable naming the URL and the cause", async () => {
    expect(await rimUnavailable("NV_DOWN")).to.equal(
      `NVIDIA RIM service ${server.url}/base/v1/rim/NV_DOWN: answered HTTP 500 "maintenance"`,
    );
    expect(await rimUnavailable("NV_GARBAGE")).to.match(
      new RegExp(`^NVIDIA RIM service ${server.url}/base/v1/rim/NV_GARBAGE: not a RIM: neither XML nor JSON`),
    );
    expect(await rimUnavailable("NV_HUGE")).to.match(
      new RegExp(
        `^NVIDIA RIM service ${server.url}/base/v1/rim/NV_HUGE: the answer is larger than \\d+ bytes`,
      ),
    );
  });

  it("refuses a service URL that is not https", () => {
    expect(() => rimServiceSource({ url: "http://rim.example" })).to.throw(
      "RIM service URL http://rim.example is not https",
    );
  });
});
