import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { stringify } from "yaml";
import { connectionFromKubeconfig, loadKubeconfigFiles, parseKubeconfigs } from "./rest-kubeconfig.ts";
import { loadKubeConnection } from "./load-connection.ts";

const CA = "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n";
const b64 = (text: string) => Buffer.from(text).toString("base64");

function kubeconfig(cluster: object, user: object, extra: object = {}): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u", namespace: "ns1" } }],
    "current-context": "ctx",
    ...extra,
  });
}

async function connectionOf(text: string) {
  return connectionFromKubeconfig(await parseKubeconfigs([{ path: "/etc/kc/config", text }]));
}

describe("agent kubeconfig loading", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "kubeconfig-"))));
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads server, inline CA and token of the current context", async () => {
    const text = kubeconfig(
      { server: "https://10.0.0.1:6443", "certificate-authority-data": b64(CA), "tls-server-name": "api" },
      { token: "abc.def" },
    );
    expect(await connectionOf(text)).to.deep.equal({
      server: "https://10.0.0.1:6443",
      ca: CA,
      tlsServerName: "api",
      bearer: { token: "abc.def" },
      namespace: "ns1",
      source: 'kubeconfig /etc/kc/config context "ctx"',
    });
  });

  it("reads an inline client certificate and key", async () => {
    const text = kubeconfig(
      { server: "https://api.example.com", "certificate-authority-data": b64(CA) },
      { "client-certificate-data": b64(CERT), "client-key-data": b64(KEY) },
    );
    const connection = await connectionOf(text);
    expect(connection.clientCertificate).to.deep.equal({ cert: CERT, key: KEY });
    expect(connection).to.not.have.property("bearer");
  });

  it("resolves CA, certificate, key and token files relative to the kubeconfig; a token file wins", async () => {
    mkdirSync(join(dir, "pki"));
    writeFileSync(join(dir, "pki/ca.crt"), CA);
    writeFileSync(join(dir, "pki/client.crt"), CERT);
    writeFileSync(join(dir, "pki/client.key"), KEY);
    const path = join(dir, "config");
    writeFileSync(
      path,
      kubeconfig(
        { server: "https://127.0.0.1:6443", "certificate-authority": "pki/ca.crt" },
        {
          "client-certificate": "pki/client.crt",
          "client-key": join(dir, "pki/client.key"),
          token: "ignored",
          tokenFile: "token",
        },
      ),
    );
    const connection = await loadKubeconfigFiles([path]);
    expect(connection).to.deep.include({
      ca: CA,
      clientCertificate: { cert: CERT, key: KEY },
      bearer: { tokenFile: join(dir, "token") },
    });
  });

  it("merges several files like kubectl: the first file's current-context and entries win", async () => {
    const first = stringify({
      "current-context": "ctx",
      users: [{ name: "u", user: { token: "first" } }],
    });
    const second = kubeconfig(
      { server: "https://second" },
      { token: "second" },
      { "current-context": "other" },
    );
    const config = await parseKubeconfigs([
      { path: "/a", text: first },
      { path: "/b", text: second },
    ]);
    expect(await connectionFromKubeconfig(config)).to.deep.include({
      server: "https://second",
      bearer: { token: "first" },
      source: 'kubeconfig /a:/b context "ctx"',
    });
  });

  it("fails closed on insecure-skip-tls-verify, plain http and authentication it does not implement", async () => {
    const refused = async (text: string, pattern: RegExp) => {
      let error: Error | undefined;
      try {
        await connectionOf(text);
      } catch (caught) {
        error = caught as Error;
      }
      expect(error?.message, text).to.match(pattern);
    };
    await refused(
      kubeconfig({ server: "https://a", "insecure-skip-tls-verify": true }, { token: "t" }),
      /insecure-skip-tls-verify is set; trustgate always verifies/,
    );
    await refused(kubeconfig({ server: "http://a:8080" }, { token: "t" }), /is not https/);
    await refused(kubeconfig({ server: "https://a" }, { exec: { command: "aws" } }), /exec is not supported/);
    await refused(kubeconfig({ server: "https://a" }, { username: "admin" }), /username is not supported/);
    await refused(
      kubeconfig({ server: "https://a" }, { "client-certificate-data": b64(CERT) }),
      /needs both certificate and key/,
    );
    await refused(
      kubeconfig({ server: "https://a", "certificate-authority-data": b64("garbage") }, {}),
      /certificate-authority-data is not PEM/,
    );
    await refused(kubeconfig({}, {}), /server is missing/);
    await refused(kubeconfig({ server: "https://a" }, {}, { "current-context": "nope" }), /context "nope"/);
    await refused(stringify({ clusters: [] }), /current-context is not set/);
    await refused("clusters: [", /is not YAML/);
  });
});

describe("agent Kubernetes connection sources", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "kube-sources-"))));
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, server: string) => {
    const path = join(dir, name);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, kubeconfig({ server }, { token: "t" }));
    return path;
  };

  it("takes --kubeconfig, then $KUBECONFIG, then ~/.kube/config, then the pod's ServiceAccount", async () => {
    const flag = write("flag", "https://flag");
    const env = write("env", "https://env");
    write("home/.kube/config", "https://home");
    const serviceAccountDir = join(dir, "sa");
    mkdirSync(serviceAccountDir);
    writeFileSync(join(serviceAccountDir, "token"), "t");
    writeFileSync(join(serviceAccountDir, "ca.crt"), CA);
    const pod = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    const server = async (sources: Parameters<typeof loadKubeConnection>[0]) =>
      (await loadKubeConnection({ serviceAccountDir, ...sources })).server;

    expect(
      await server({ kubeconfig: flag, env: { KUBECONFIG: env, ...pod }, home: join(dir, "home") }),
    ).to.equal("https://flag");
    expect(await server({ env: { KUBECONFIG: env, ...pod }, home: join(dir, "home") })).to.equal(
      "https://env",
    );
    expect(await server({ env: pod, home: join(dir, "home") })).to.equal("https://home");
    expect(await server({ env: pod, home: join(dir, "nobody") })).to.equal("https://10.96.0.1:443");
  });

  it("says what to do when nothing is configured", async () => {
    let error: Error | undefined;
    try {
      await loadKubeConnection({ env: {}, home: dir, serviceAccountDir: join(dir, "none") });
    } catch (caught) {
      error = caught as Error;
    }
    expect(error?.message).to.match(/no Kubernetes API configured: use --kubeconfig/);
  });
});
