import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { expect } from "chai";
import { generateControlPlanePki } from "../../../hack/lib/pki.ts";
import { KubeApiError } from "./rest-api-error.ts";
import type { KubeConnection } from "./rest-connection.ts";
import { KubeRestClient } from "./rest-client.ts";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
  clientCn: string | undefined;
}

type Handler = (seen: Seen, res: ServerResponse) => void;

describe("agent Kubernetes REST client (local TLS server)", function () {
  this.timeout(20_000);
  let dir: string;
  let ca: string;
  let client: { cert: string; key: string };
  let server: Server;
  let base: string;
  let handler: Handler;
  let seen: Seen[];
  let connections: number;
  const open: KubeRestClient[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rest-client-"));
    const pki = await generateControlPlanePki(join(dir, "pki"));
    const read = (path: string) => readFile(path, "utf8");
    ca = await read(pki.caCert);
    client = { cert: await read(pki.adminCert), key: await read(pki.adminKey) };
    server = createServer(
      {
        cert: await read(pki.servingCert),
        key: await read(pki.servingKey),
        ca,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
          // Without a client certificate this is an empty object.
          const peer: Partial<PeerCertificate> = (req.socket as TLSSocket).getPeerCertificate();
          const entry: Seen = {
            method: req.method ?? "",
            url: req.url ?? "",
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            clientCn: peer.subject?.CN?.toString(),
          };
          seen.push(entry);
          handler(entry, res);
        });
      },
    );
    server.on("secureConnection", () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    seen = [];
    connections = 0;
    handler = (_seen, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ kind: "ConfidentialHost", metadata: { name: "n1" } }));
    };
  });

  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const clientFor = (connection: Partial<KubeConnection>, timeoutMs?: number) => {
    const c = new KubeRestClient(
      { server: base, ca, source: "test", ...connection },
      timeoutMs === undefined ? {} : { timeoutMs },
    );
    open.push(c);
    return c;
  };

  async function failure(promise: Promise<unknown>): Promise<Error> {
    try {
      await promise;
    } catch (error) {
      return error as Error;
    }
    throw new Error("expected the request to fail");
  }

  it("sends GET, POST and merge-patch PATCH as JSON with the bearer token, over one kept-alive connection", async () => {
    const api = clientFor({ bearer: { token: "t0k3n" } });
    expect(await api.get("/apis/trustgate.io/v1alpha1/confidentialhosts/n1")).to.deep.equal({
      kind: "ConfidentialHost",
      metadata: { name: "n1" },
    });
    await api.post("/apis/trustgate.io/v1alpha1/confidentialhosts", { metadata: { name: "n1" } });
    await api.mergePatch("/apis/trustgate.io/v1alpha1/confidentialhosts/n1/status", { status: { a: null } });
    expect(seen.map((s) => [s.method, s.url, s.headers["content-type"], s.body])).to.deep.equal([
      ["GET", "/apis/trustgate.io/v1alpha1/confidentialhosts/n1", undefined, ""],
      [
        "POST",
        "/apis/trustgate.io/v1alpha1/confidentialhosts",
        "application/json",
        '{"metadata":{"name":"n1"}}',
      ],
      [
        "PATCH",
        "/apis/trustgate.io/v1alpha1/confidentialhosts/n1/status",
        "application/merge-patch+json",
        '{"status":{"a":null}}',
      ],
    ]);
    for (const s of seen) {
      expect(s.headers).to.include({ authorization: "Bearer t0k3n", accept: "application/json" });
      expect(s.headers["user-agent"]).to.match(/^trustgate-agent\//);
      expect(s.clientCn).to.equal(undefined);
    }
    expect(connections).to.equal(1);
  });

  it("presents the client certificate and keeps the server URL's path prefix", async () => {
    const api = new KubeRestClient({
      server: `${base}/k8s/clusters/c-1/`,
      ca,
      clientCertificate: client,
      source: "t",
    });
    open.push(api);
    await api.get("/api/v1/namespaces/default");
    expect(seen[0]).to.deep.include({
      url: "/k8s/clusters/c-1/api/v1/namespaces/default",
      clientCn: "admin",
    });
    expect(seen[0]?.headers).to.not.have.property("authorization");
  });

  it("reads a token file for every request", async () => {
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, "first\n");
    const api = clientFor({ bearer: { tokenFile } });
    await api.get("/a");
    await writeFile(tokenFile, "second");
    await api.get("/b");
    expect(seen.map((s) => s.headers["authorization"])).to.deep.equal(["Bearer first", "Bearer second"]);
  });

  it("turns an error Status into a KubeApiError", async () => {
    handler = (_seen, res) => {
      res.statusCode = 409;
      res.setHeader("content-type", "application/json");
      const message = 'confidentialhosts.trustgate.io "n1" already exists';
      res.end(JSON.stringify({ kind: "Status", code: 409, reason: "AlreadyExists", message }));
    };
    const error = await failure(clientFor({}).post("/apis/x", {}));
    expect(error).to.be.instanceOf(KubeApiError);
    expect(error).to.deep.include({ code: 409, reason: "AlreadyExists" });
    expect(error.message).to.equal('confidentialhosts.trustgate.io "n1" already exists');
  });

  it("refuses a server whose certificate the configured CAs do not vouch for", async () => {
    const withoutCa = new KubeRestClient({ server: base, source: "t" });
    open.push(withoutCa);
    const error = await failure(withoutCa.get("/a"));
    expect(error.message).to.match(/^GET https:\/\/127\.0\.0\.1:\d+\/a: .*certificate/);
    expect(seen).to.deep.equal([]);
  });

  it("gives up on a server that does not answer in time", async () => {
    handler = () => undefined;
    const started = Date.now();
    const error = await failure(clientFor({}, 300).get("/slow"));
    expect(error.message).to.match(/GET https:\/\/.*\/slow: no answer within 300 ms/);
    expect(Date.now() - started).to.be.below(5_000);
  });

  it("stops reading an answer larger than 8 MiB", async () => {
    handler = (_seen, res) => res.end(Buffer.alloc(9 * 1024 * 1024, 0x20));
    expect((await failure(clientFor({}).get("/big"))).message).to.equal(
      `GET ${base}/big: the body is larger than 8388608 bytes`,
    );
  });

  it("fails on a 2xx answer that is not JSON", async () => {
    handler = (_seen, res) => res.end("<html>");
    expect((await failure(clientFor({}).get("/a"))).message).to.equal("GET /a: the answer is not JSON");
  });
});
