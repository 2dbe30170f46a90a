// The agent's /metrics, /healthz and /readyz, scraped from a running `trustgate agent` process against the real API
// server: not ready while its writes are refused (liveness unaffected: the loop turns), ready once the report is
// published, and its log lines in the format every component writes.
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { expect } from "chai";
import { expectLoggerFormat, readLogLines } from "../support/log-lines.ts";
import { stringify } from "yaml";
import { freeLoopbackPorts, type ManagedProcess } from "../../../hack/lib/managed-process.ts";
import { applyCrds, readCrdFile } from "../support/crd-install.ts";
import { applyManifestFile, waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { podBoundToken } from "../support/identities.ts";
import { readConfidentialHost } from "../support/read.ts";
import { REPO_ROOT } from "../support/samples.ts";
import { startTrustgate } from "../support/trustgate-process.ts";
import { AGENT_SERIES, HISTOGRAMS } from "../../src/runtime/exported-series.ts";

const NS = "trustgate-system";
const NODE = "agent-metrics-1";
// A TDX host with 8 H100s in CC mode.
const FIXTURE = join(REPO_ROOT, "operator/test/fixtures/hosts/tdx-8xh100");

describe("agent metrics and probes (a running agent, real API server)", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  let dir: string;
  let agent: ManagedProcess | undefined;

  before(async function () {
    admin = await kubeConfig();
    dir = await makeTempDir("trustgate-agent-metrics-");
    await applyCrds(admin, await readCrdFile(join(REPO_ROOT, "crds/confidentialhosts.trustgate.io.yaml")));
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } }).catch(() => undefined);
    await core.createNode({ body: { metadata: { name: NODE } } }).catch(() => undefined);
    for (const file of ["rbac/agent.yaml", "admission/agent-node-restriction.yaml"])
      await applyManifestFile(admin, `charts/trustgate/files/${file}`);
  });

  after(async function () {
    await agent?.stop();
  });

  it("is live but not ready while its writes are refused, ready with metrics once it has published", async function () {
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, "not-a-token");
    const cluster = admin.getCurrentCluster()!;
    const kubeconfig = join(dir, "agent.kubeconfig");
    await writeFile(
      kubeconfig,
      stringify({
        clusters: [
          { name: "c", cluster: { server: cluster.server, "certificate-authority-data": cluster.caData } },
        ],
        users: [{ name: "u", user: { tokenFile } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    const root = join(dir, "host");
    await cp(FIXTURE, root, { recursive: true, verbatimSymlinks: true });
    const [port] = await freeLoopbackPorts(1);
    const url = `http://127.0.0.1:${String(port)}`;
    agent = startTrustgate(
      "agent",
      [
        ...["agent", "--node-name", NODE, "--host-root", root, "--key-file", join(dir, "agent.jwk")],
        ...["--interval", "1s", "--kubeconfig", kubeconfig, "--pod-resources-socket", ""],
        ...["--metrics-bind-address", `127.0.0.1:${String(port)}`],
      ],
      dir,
    );
    const get = async (path: string): Promise<{ status: number; body: string }> => {
      const response = await fetch(`${url}${path}`);
      return { status: response.status, body: await response.text() };
    };
    await waitUntil(
      "the agent's write refused as Unauthorized, twice",
      async () =>
        ((await readFile(agent!.logPath, "utf8")).match(/"reason":"Unauthorized"/g) ?? []).length >= 2,
      30_000,
    );
    const refused = await get("/readyz");
    expect(refused).to.deep.equal({
      status: 503,
      body: "[-]report-published failed: no report published yet\nreadyz check failed\n",
    });
    expect(await get("/healthz")).to.deep.equal({
      status: 200,
      body: "[+]scan-loop ok\nhealthz check passed\n",
    });
    const failing = await get("/metrics");
    expect(Number(/^trustgate_agent_publish_errors_total (\d+)$/m.exec(failing.body)?.[1])).to.be.at.least(2);
    expect(failing.body).to.match(/^trustgate_agent_last_scan_timestamp_seconds \d+/m);
    expect(failing.body).to.include("trustgate_agent_last_publish_timestamp_seconds 0");

    await writeFile(tokenFile, await podBoundToken(admin, NS, "trustgate-agent", NODE));
    await waitUntil("the agent ready", async () => (await get("/readyz")).status === 200, 30_000);
    expect((await readConfidentialHost(admin, NODE))?.status?.report?.jws).to.be.a("string");
    const { status, body } = await get("/metrics");
    expect(status).to.equal(200);
    for (const family of AGENT_SERIES)
      expect(body, family).to.match(
        new RegExp(`^${family}${HISTOGRAMS.has(family) ? "_count" : ""}(\\{[^}]*\\})? \\d`, "m"),
      );
    const published = Number(/^trustgate_agent_last_publish_timestamp_seconds (\S+)$/m.exec(body)?.[1]);
    expect(Math.abs(published * 1000 - Date.now())).to.be.below(30_000);
    expect(body).to.include('trustgate_agent_status_writes_total{reason="initial"} 1');
    expect(Number(/^trustgate_agent_scan_duration_seconds_count (\d+)$/m.exec(body)?.[1])).to.be.at.least(3);
    expect(body).to.match(/^trustgate_agent_check_failing\{check="tdx"\} 0$/m);
    expect(body).to.match(/^trustgate_build_info\{version="[^"]+"\} 1$/m);
    expect(body).to.match(/^process_resident_memory_bytes \d+/m);

    // Its log: string levels, ISO times, errors as code/reason/message without response headers.
    const lines = await readLogLines(agent.logPath, { jsonOnly: true });
    expect(lines.length).to.be.above(3);
    for (const line of lines) {
      expectLoggerFormat(line);
      expect(line.name).to.equal("trustgate-agent");
    }
    const failed = lines.find((l) => l.msg === "Failed to publish ConfidentialHost status");
    expect(failed?.level).to.equal("error");
    expect(failed?.err).to.include({ code: 401, reason: "Unauthorized" });
    expect(JSON.stringify(failed).length).to.be.below(400);
    expect(lines.find((l) => l.msg === "Serving metrics")).to.include({ level: "info" });

    const stopping = Date.now();
    await agent.stop();
    expect(await agent.exited).to.equal("exit code 0");
    expect(Date.now() - stopping, "the metrics server does not hold the process").to.be.below(3_000);
  });
});
