import { expect } from "chai";
import { pino } from "pino";
import { Controller } from "./controller.ts";
import { instrumentController, OperatorMetrics } from "./metrics.ts";
import { type BindAddress, parseBindAddress } from "./listen.ts";
import { type MetricsServer, startMetricsServer } from "./metrics-server.ts";

const log = pino({ level: "silent" });

describe("parseBindAddress", () => {
  const valid: Record<string, BindAddress> = {
    ":8080": { port: 8080 },
    "127.0.0.1:9090": { host: "127.0.0.1", port: 9090 },
    "[::1]:8080": { host: "::1", port: 8080 },
    "localhost:0": { host: "localhost", port: 0 },
  };
  for (const [text, want] of Object.entries(valid)) {
    it(`parses ${text}`, () => {
      expect(parseBindAddress(text)).to.deep.equal(want);
    });
  }
  for (const text of ["8080", ":", ":http", ":70000", "::1:8080", "host:80:80"]) {
    it(`rejects "${text}"`, () => {
      expect(() => parseBindAddress(text)).to.throw(/invalid bind address/);
    });
  }
});

describe("startMetricsServer", () => {
  let server: MetricsServer;
  let metrics: OperatorMetrics;
  let synced = false;
  let leading = false;

  before(async () => {
    metrics = new OperatorMetrics();
    server = await startMetricsServer({
      address: "127.0.0.1:0",
      metrics,
      log,
      readinessChecks: [
        { name: "informers-synced", ready: () => synced },
        { name: "leader-election", ready: () => leading },
      ],
    });
  });

  after(async () => {
    await server.close();
  });

  function get(path: string, init?: RequestInit): Promise<Response> {
    return fetch(`http://127.0.0.1:${server.port}${path}`, init);
  }

  it("serves every trustgate metric and the process metrics after some reconciles", async () => {
    const controller = new Controller(
      { name: "confidentialhost", reconcile: () => Promise.resolve({}) },
      { log },
    );
    instrumentController(controller, metrics);
    metrics.setConfidentialVMPhases({ Attesting: 2 });
    metrics.trackLeader("controller-0_abcd", () => leading);
    let reconciles = 0;
    controller.onReconciled(() => reconciles++);
    controller.start();
    controller.enqueue("host-a");
    controller.enqueue("host-b");
    while (reconciles < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    await controller.stop();

    const response = await get("/metrics");
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.match(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    for (const name of [
      'trustgate_reconcile_total{controller="confidentialhost",outcome="success"} 2',
      'trustgate_reconcile_duration_seconds_bucket{le="0.005",controller="confidentialhost"}',
      'trustgate_reconcile_errors_total{controller="confidentialhost"} 0',
      'trustgate_workqueue_depth{controller="confidentialhost"} 0',
      'trustgate_confidentialvms{phase="Attesting"} 2',
      'trustgate_leader{identity="controller-0_abcd"} 0',
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_seconds",
    ]) {
      expect(text).to.include(name);
    }
  });

  it("answers /healthz while the process runs", async () => {
    const response = await get("/healthz");
    expect([response.status, await response.text()]).to.deep.equal([200, "ok\n"]);
  });

  it("answers /readyz with 503 naming the failing checks, then 200 once all pass", async () => {
    synced = true;
    leading = false;
    const notReady = await get("/readyz");
    expect(notReady.status).to.equal(503);
    expect(await notReady.text()).to.equal(
      "[+]informers-synced ok\n[-]leader-election failed\nreadyz check failed\n",
    );
    leading = true;
    const ready = await get("/readyz");
    expect(ready.status).to.equal(200);
  });

  it("answers 404 for unknown paths and 405 for writes", async () => {
    expect((await get("/debug")).status).to.equal(404);
    expect((await get("/metrics", { method: "POST" })).status).to.equal(405);
  });

  it("fails to start on an address already in use", async () => {
    let error: unknown;
    try {
      await startMetricsServer({ address: `127.0.0.1:${server.port}`, metrics, log });
    } catch (caught) {
      error = caught;
    }
    expect((error as NodeJS.ErrnoException | undefined)?.code).to.equal("EADDRINUSE");
  });
});

describe("startMetricsServer with liveness checks (the agent's scan loop)", () => {
  it("answers /healthz 503 naming the failed check and its reason, 200 once it passes", async () => {
    let loop = { ok: false, reason: "a scan has been running for 240s" };
    const server = await startMetricsServer({
      address: "127.0.0.1:0",
      metrics: new OperatorMetrics({ processMetrics: false }),
      log,
      livenessChecks: [{ name: "scan-loop", ready: () => loop }],
      readinessChecks: [{ name: "report-published", ready: () => ({ ok: true, reason: "" }) }],
    });
    try {
      const url = `http://127.0.0.1:${String(server.port)}`;
      const stuck = await fetch(`${url}/healthz`);
      expect(stuck.status).to.equal(503);
      expect(await stuck.text()).to.equal(
        "[-]scan-loop failed: a scan has been running for 240s\nhealthz check failed\n",
      );
      loop = { ok: true, reason: "scan loop running" };
      const live = await fetch(`${url}/healthz`);
      expect(live.status).to.equal(200);
      expect(await live.text()).to.equal("[+]scan-loop ok\nhealthz check passed\n");
      expect((await fetch(`${url}/readyz`)).status).to.equal(200);
    } finally {
      await server.close();
    }
  });
});
