import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { currentBearerToken } from "./rest-connection.ts";
import { inClusterConnection, runningInCluster } from "./in-cluster.ts";

const CA = "-----BEGIN CERTIFICATE-----\ncluster\n-----END CERTIFICATE-----\n";
const POD_ENV = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };

describe("agent in-cluster connection", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "serviceaccount-"));
    writeFileSync(join(dir, "token"), "token-1\n");
    writeFileSync(join(dir, "ca.crt"), CA);
    writeFileSync(join(dir, "namespace"), "trustgate-system");
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("uses the kubernetes service, the mounted CA and the token file", async () => {
    expect(runningInCluster(POD_ENV, dir)).to.equal(true);
    expect(await inClusterConnection(POD_ENV, dir)).to.deep.equal({
      server: "https://10.96.0.1:443",
      ca: CA,
      bearer: { tokenFile: join(dir, "token") },
      namespace: "trustgate-system",
      source: `in-cluster (${dir})`,
    });
  });

  it("brackets an IPv6 service address", async () => {
    const env = { KUBERNETES_SERVICE_HOST: "fd00:10:96::1", KUBERNETES_SERVICE_PORT: "443" };
    expect((await inClusterConnection(env, dir)).server).to.equal("https://[fd00:10:96::1]:443");
  });

  it("reads the token file again for every request, so a rotated token is used at once", async () => {
    const { bearer } = await inClusterConnection(POD_ENV, dir);
    expect(await currentBearerToken(bearer!)).to.equal("token-1");
    writeFileSync(join(dir, "token"), "token-2");
    expect(await currentBearerToken(bearer!)).to.equal("token-2");
    writeFileSync(join(dir, "token"), "\n");
    let error: Error | undefined;
    await currentBearerToken(bearer!).catch((caught: unknown) => (error = caught as Error));
    expect(error?.message).to.match(/token file .* is empty/);
  });

  it("is not in a pod without the service environment or the token, and says what is missing", async () => {
    expect(runningInCluster({}, dir)).to.equal(false);
    expect(runningInCluster(POD_ENV, join(dir, "missing"))).to.equal(false);
    let error: Error | undefined;
    await inClusterConnection({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }, dir).catch(
      (caught: unknown) => (error = caught as Error),
    );
    expect(error?.message).to.match(/KUBERNETES_SERVICE_PORT must be set/);
    rmSync(join(dir, "ca.crt"));
    await inClusterConnection(POD_ENV, dir).catch((caught: unknown) => (error = caught as Error));
    expect(error?.message).to.match(/cannot read ca\.crt/);
  });
});
