import { expect } from "chai";
import { pino } from "pino";
import { Controller, type Reconciler, TerminalError } from "./controller.ts";

const log = pino({ level: "silent" });

function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (predicate()) resolve();
      else if (Date.now() > deadline) reject(new Error("condition not reached"));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

describe("Controller", () => {
  it("retries a failing key with backoff until it succeeds", async () => {
    let calls = 0;
    const reconciler: Reconciler = {
      name: "flaky",
      reconcile() {
        calls++;
        return calls < 3 ? Promise.reject(new Error("transient")) : Promise.resolve({});
      },
    };
    const controller = new Controller(reconciler, { log, workers: 1 });
    const outcomes: string[] = [];
    controller.onReconciled((_key, outcome) => outcomes.push(outcome));
    controller.start();
    controller.enqueue("ns/a");
    await waitFor(() => outcomes.length === 3);
    expect(outcomes).to.deep.equal(["error", "error", "success"]);
    await controller.stop();
  });

  it("does not retry terminal errors", async () => {
    let calls = 0;
    const controller = new Controller(
      {
        name: "terminal",
        reconcile() {
          calls++;
          return Promise.reject(new TerminalError("bad spec"));
        },
      },
      { log, workers: 1 },
    );
    controller.start();
    controller.enqueue("a");
    await waitFor(() => calls === 1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(calls).to.equal(1);
    await controller.stop();
  });

  it("never runs one key in two workers at once", async () => {
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const controller = new Controller(
      {
        name: "serial",
        async reconcile() {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((resolve) => setTimeout(resolve, 10));
          running--;
          calls++;
          return {};
        },
      },
      { log, workers: 4 },
    );
    controller.start();
    for (let i = 0; i < 20; i++) controller.enqueue("same");
    await waitFor(() => calls >= 1 && running === 0 && controller.queue.length === 0);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(maxRunning).to.equal(1);
    expect(calls).to.be.at.most(2);
    await controller.stop();
  });

  it("requeues after the requested delay", async () => {
    let calls = 0;
    const controller = new Controller(
      {
        name: "timed",
        reconcile() {
          calls++;
          return Promise.resolve(calls === 1 ? { requeueAfterMs: 20 } : {});
        },
      },
      { log, workers: 1 },
    );
    controller.start();
    controller.enqueue("a");
    await waitFor(() => calls === 2);
    await controller.stop();
  });
});
