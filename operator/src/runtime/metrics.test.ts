import { expect } from "chai";
import { pino } from "pino";
import { Controller, TerminalError } from "./controller.ts";
import { instrumentController, OperatorMetrics } from "./metrics.ts";

const log = pino({ level: "silent" });

async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Fails "bad" once (retried), fails "broken" terminally, succeeds otherwise. */
function fixtureController(): Controller {
  let badCalls = 0;
  return new Controller(
    {
      name: "confidentialvm",
      reconcile(key) {
        if (key === "ns/broken") return Promise.reject(new TerminalError("bad spec"));
        if (key === "ns/bad" && badCalls++ === 0) return Promise.reject(new Error("transient"));
        return Promise.resolve({});
      },
    },
    { log, workers: 1 },
  );
}

describe("OperatorMetrics", () => {
  it("counts reconciles per outcome, errors and durations of an instrumented controller", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const controller = fixtureController();
    instrumentController(controller, metrics);
    let reconciles = 0;
    controller.onReconciled(() => reconciles++);
    controller.start();
    for (const key of ["ns/a", "ns/b", "ns/bad", "ns/broken"]) controller.enqueue(key);
    await waitFor(() => reconciles === 5);
    await controller.stop();

    const text = await metrics.metrics();
    expect(text).to.include('trustgate_reconcile_total{controller="confidentialvm",outcome="success"} 3');
    expect(text).to.include('trustgate_reconcile_total{controller="confidentialvm",outcome="error"} 1');
    expect(text).to.include('trustgate_reconcile_total{controller="confidentialvm",outcome="terminal"} 1');
    expect(text).to.include('trustgate_reconcile_errors_total{controller="confidentialvm"} 2');
    expect(text).to.include('trustgate_reconcile_duration_seconds_count{controller="confidentialvm"} 5');
  });

  it("exposes zero series for a controller before its first reconcile", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    instrumentController(fixtureController(), metrics);
    const text = await metrics.metrics();
    expect(text).to.include('trustgate_reconcile_total{controller="confidentialvm",outcome="error"} 0');
    expect(text).to.include('trustgate_reconcile_errors_total{controller="confidentialvm"} 0');
    expect(text).to.include('trustgate_reconcile_duration_seconds_count{controller="confidentialvm"} 0');
  });

  it("counts work queue adds, retries and time queued (controller-runtime's workqueue metrics)", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const controller = fixtureController();
    instrumentController(controller, metrics);
    let reconciles = 0;
    controller.onReconciled(() => reconciles++);
    for (const key of ["ns/a", "ns/bad", "ns/a"]) controller.enqueue(key);
    controller.start();
    await waitFor(() => reconciles === 3);
    await controller.stop();

    const text = await metrics.metrics();
    // ns/a once (deduplicated), ns/bad, and ns/bad again after its backoff.
    expect(text).to.include('trustgate_workqueue_adds_total{controller="confidentialvm"} 3');
    expect(text).to.include('trustgate_workqueue_retries_total{controller="confidentialvm"} 1');
    expect(text).to.include(
      'trustgate_workqueue_queue_duration_seconds_count{controller="confidentialvm"} 3',
    );
  });

  it("labels trustgate_build_info with the version", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false, version: "1.2.3" });
    expect(await metrics.metrics()).to.include('trustgate_build_info{version="1.2.3"} 1');
  });

  it("reads the work queue depth at scrape time", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const controller = fixtureController();
    instrumentController(controller, metrics);
    for (const key of ["ns/a", "ns/b", "ns/c", "ns/a"]) controller.enqueue(key);
    expect(await metrics.metrics()).to.include('trustgate_workqueue_depth{controller="confidentialvm"} 3');
  });

  it("drops a phase that is no longer reported to zero", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    metrics.setConfidentialVMPhases({ Launching: 2, Attesting: 1 });
    metrics.setConfidentialVMPhases({ Attesting: 3 });
    const text = await metrics.metrics();
    expect(text).to.include('trustgate_confidentialvms{phase="Launching"} 0');
    expect(text).to.include('trustgate_confidentialvms{phase="Attesting"} 3');
  });

  it("reports how many CVMs have TcbDriftSoon=True", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    expect(await metrics.metrics()).to.include("trustgate_tcb_drift_soon_confidentialvms 0");
    metrics.setTcbDriftSoon(2);
    expect(await metrics.metrics()).to.include("trustgate_tcb_drift_soon_confidentialvms 2");
  });

  it("reports leadership as 1 or 0 per identity", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    let leading = false;
    metrics.trackLeader("controller-0_abcd", () => leading);
    expect(await metrics.metrics()).to.include('trustgate_leader{identity="controller-0_abcd"} 0');
    leading = true;
    expect(await metrics.metrics()).to.include('trustgate_leader{identity="controller-0_abcd"} 1');
  });

  it("reports each KubeVirt preflight check as 1 or 0, read at scrape time", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    let installed = false;
    metrics.trackKubeVirt(() => [
      { check: "installed", ok: installed },
      { check: "feature-gate-tdx", ok: false },
    ]);
    const before = await metrics.metrics();
    expect(before).to.include('trustgate_kubevirt_ready{check="installed"} 0');
    expect(before).to.include('trustgate_kubevirt_ready{check="feature-gate-tdx"} 0');
    installed = true;
    expect(await metrics.metrics()).to.include('trustgate_kubevirt_ready{check="installed"} 1');
  });

  it("keeps two instances apart (own Registry, not the global one)", async () => {
    const first = new OperatorMetrics();
    const second = new OperatorMetrics();
    first.setConfidentialVMPhases({ Pending: 1 });
    expect(await second.metrics()).not.to.include('phase="Pending"');
    expect(await first.metrics()).to.include("process_cpu_user_seconds_total");
  });
});
