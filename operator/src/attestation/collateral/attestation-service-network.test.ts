/**
 * What the attestation service client says when the network below HTTP fails, through both transports (the global
 * fetch and node:https with an explicit CA): an untrusted or mismatched certificate, a closed port, a name that does
 * not resolve, and an HTTP proxy refusing the tunnel, also as Node sets it up from NODE_USE_ENV_PROXY=1.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { startLocalHttps, type LocalHttps } from "../../../test/support/fakes/local-https.ts";
import { startRefusingProxy, type RefusingProxy } from "../../../test/support/fakes/refusing-proxy.ts";
import { fetchTransport, httpsTransport, type HttpTransport } from "../../http/transport.ts";
import { AttestationServiceError, createAttestationServiceClient } from "./attestation-service-client.ts";

async function messageOf(transport: HttpTransport, url: string): Promise<AttestationServiceError> {
  const client = createAttestationServiceClient({
    transport,
    timeoutMs: 5000,
    sleep: () => Promise.resolve(),
  });
  const error: unknown = await client.get(url, { service: "amd-kds" }).then(
    () => expect.fail(`${url} answered`),
    (reason: unknown) => reason,
  );
  expect(error).to.be.instanceOf(AttestationServiceError);
  return error as AttestationServiceError;
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("attestation service client: network failures, named", function () {
  this.timeout(30_000);
  let server: LocalHttps;
  let otherCa: LocalHttps;
  let proxy: RefusingProxy;

  before(async () => {
    [server, otherCa, proxy] = await Promise.all([
      startLocalHttps(),
      startLocalHttps(),
      startRefusingProxy(),
    ]);
    server.handle((_seen, res) => res.writeHead(200).end("vcek"));
  });
  after(async () => {
    await Promise.all([server.close(), otherCa.close(), proxy.close()]);
  });

  const transports: [string, () => HttpTransport][] = [
    ["global fetch", () => fetchTransport()],
    ["node:https with another CA", () => httpsTransport({ caPem: otherCa.caPem, proxyEnv: null })],
  ];

  for (const [name, transport] of transports) {
    it(`${name}: a server certificate from a CA not trusted is a TLS failure, not retried`, async () => {
      const before = server.seen.length;
      const error = await messageOf(transport(), `${server.url}/vcek/v1/Milan/x`);
      expect(error.message).to.match(
        new RegExp(
          `^AMD KDS ${server.url}/vcek/v1/Milan/x: TLS failed \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate`,
        ),
      );
      expect([error.failure, error.attempts]).to.deep.equal(["tls", 1]);
      expect(server.seen.length, "no request got through").to.equal(before);
    });

    it(`${name}: a closed port is ECONNREFUSED, retried`, async () => {
      const port = await closedPort();
      const error = await messageOf(transport(), `https://127.0.0.1:${port}/vcek`);
      expect(error.message).to.equal(
        `AMD KDS https://127.0.0.1:${port}/vcek: connection refused (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${port}) (after 3 attempts)`,
      );
      expect(error.failure).to.equal("connection-refused");
    });

    it(`${name}: a name that does not resolve is a DNS failure naming ENOTFOUND or EAI_AGAIN`, async () => {
      const error = await messageOf(transport(), "https://kds.trustgate-test.invalid/vcek");
      expect(error.message).to.match(
        /^AMD KDS https:\/\/kds\.trustgate-test\.invalid\/vcek: DNS lookup failed.*\((ENOTFOUND|EAI_AGAIN): getaddrinfo \1 kds\.trustgate-test\.invalid\)/,
      );
    });
  }

  it("node:https with the right CA but another host name: a hostname mismatch", async () => {
    const port = new URL(server.url).port;
    const error = await messageOf(
      httpsTransport({ caPem: server.caPem, proxyEnv: null }),
      `https://localhost:${port}/v`,
    );
    expect(error.message).to.match(
      /: TLS failed \(ERR_TLS_CERT_ALTNAME_INVALID: Hostname\/IP does not match/,
    );
  });

  it("node:https with an explicit CA still goes through the proxy; a refused CONNECT is named", async () => {
    proxy.connects.length = 0;
    const proxied = httpsTransport({ caPem: server.caPem, proxyEnv: { HTTPS_PROXY: proxy.url } });
    const error = await messageOf(proxied, `${server.url}/vcek`);
    expect(error.message).to.match(
      /: the proxy refused or failed the tunnel \(ERR_PROXY_TUNNEL: Failed to establish tunnel to 127\.0\.0\.1:\d+ via http:\/\/127\.0\.0\.1:\d+: HTTP\/1\.1 403 Forbidden\)$/,
    );
    expect(error.failure).to.equal("proxy");
    expect(proxy.connects).to.deep.equal([new URL(server.url).host]);
    // NO_PROXY exempts the host: straight to the server, verified with the CA.
    const exempt = httpsTransport({
      caPem: server.caPem,
      proxyEnv: { HTTPS_PROXY: proxy.url, NO_PROXY: "127.0.0.1" },
    });
    const answer = await createAttestationServiceClient({ transport: exempt }).get(`${server.url}/vcek`, {
      service: "amd-kds",
    });
    expect(answer?.status).to.equal(200);
    expect(proxy.connects).to.have.length(1);
  });

  it("under NODE_USE_ENV_PROXY=1 both transports use HTTPS_PROXY, and the proxy's password is not repeated", async () => {
    const client = new URL("./attestation-service-client.ts", import.meta.url).href;
    const transport = new URL("../../http/transport.ts", import.meta.url).href;
    const script = `
      const { createAttestationServiceClient } = await import(${JSON.stringify(client)});
      const { fetchTransport, httpsTransport } = await import(${JSON.stringify(transport)});
      const messages = [];
      for (const transport of [fetchTransport(), httpsTransport({ caPem: process.env.CA_PEM })]) {
        const c = createAttestationServiceClient({ transport, retry: { maxAttempts: 1 } });
        await c.get(process.env.TARGET, { service: "intel-pcs" }).then(() => messages.push("answered"), (e) => messages.push(e.message));
      }
      process.stdout.write(JSON.stringify(messages));
    `;
    const proxyUrl = new URL(proxy.url);
    proxyUrl.username = "user";
    proxyUrl.password = "hunter2secret";
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      env: {
        PATH: process.env["PATH"] ?? "",
        NODE_USE_ENV_PROXY: "1",
        HTTPS_PROXY: proxyUrl.href,
        CA_PEM: server.caPem,
        TARGET: `${server.url}/tcb`,
      },
    });
    const [viaFetch, viaHttps] = JSON.parse(stdout) as string[];
    expect(viaFetch).to.match(
      /^Intel PCS https:\/\/127\.0\.0\.1:\d+\/tcb: the proxy refused or failed the tunnel \(UND_ERR_ABORTED: Proxy response \(403\) !== 200 when HTTP Tunneling\)$/,
    );
    expect(viaHttps).to.match(
      /: the proxy refused or failed the tunnel \(ERR_PROXY_TUNNEL: .*403 Forbidden\)$/,
    );
    expect(stdout).to.not.include("hunter2secret");
  });
});

describe("httpsTransport", () => {
  it("refuses a CA bundle without a certificate instead of silently trusting nothing", () => {
    expect(() => httpsTransport({ caPem: "" })).to.throw("the CA bundle: no certificate");
    expect(() => httpsTransport({ caPem: "# just a comment\n" })).to.throw("the CA bundle: no certificate");
    expect(() =>
      httpsTransport({ caPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }),
    ).to.throw("certificate 1 of the CA bundle is not an X.509 certificate");
  });
});
