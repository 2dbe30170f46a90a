// The built controller with leader election, restarted like the kubelet restarts a crashed container: whenever it
// exits (SIGKILLed by a chaos script, or exiting itself on a lost Lease), a new process starts after a fixed backoff.
// Each process gets its own POD_NAME, so its Lease identity (`<POD_NAME>_<random>`) says which run leads.
import { CoordinationV1Api } from "@kubernetes/client-node";
import type { ManagedProcess } from "../../hack/lib/managed-process.ts";
import { type BenchCluster, startController } from "../attest-harness.ts";

export const LEASE_NAMESPACE = "trustgate-system";
export const LEASE_NAME = "trustgate-controller";

export interface ControllerRun {
  index: number;
  podName: string;
  /** Date.now() when the process was spawned. */
  startedAt: number;
  /** When the Lease was first seen held by this run. */
  leadingAt?: number;
  /** When this run was SIGKILLed by the chaos script. */
  killedAt?: number;
  exitedAt?: number;
  /** How it ended ("signal SIGKILL", "exit code 1"). */
  exit?: string;
}

export interface SupervisedControllerOptions {
  logLevel: string;
  /** Wait between an exit and the next start (the kubelet's CrashLoopBackOff starts at 10 s). */
  backoffMs: number;
  extraArgs?: readonly string[];
}

export class SupervisedController {
  readonly runs: ControllerRun[] = [];
  readonly #cluster: BenchCluster;
  readonly #options: SupervisedControllerOptions;
  readonly #leases: CoordinationV1Api;
  #process: ManagedProcess | undefined;
  #stopped = false;
  #poller: NodeJS.Timeout | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #spawning: Promise<void> = Promise.resolve();
  #changed: (() => void)[] = [];

  constructor(cluster: BenchCluster, options: SupervisedControllerOptions) {
    this.#cluster = cluster;
    this.#options = options;
    this.#leases = cluster.kc.makeApiClient(CoordinationV1Api);
  }

  /** The run now alive (or being restarted: the last one). */
  get current(): ControllerRun {
    const run = this.runs.at(-1);
    if (run === undefined) throw new Error("the controller was never started");
    return run;
  }

  get pid(): number {
    return this.#process?.pid ?? -1;
  }

  async start(): Promise<void> {
    await this.#startRun();
    this.#poll();
  }

  /** SIGKILLs the running controller (the supervisor starts the next one after the backoff). */
  async kill(): Promise<ControllerRun> {
    const run = this.current;
    const child = this.#process;
    if (child === undefined || child.hasExited())
      throw new Error(`controller run ${String(run.index)} is not running`);
    run.killedAt = Date.now();
    process.kill(child.pid, "SIGKILL");
    await child.exited;
    return run;
  }

  /** Resolves once the run after `run` (or `run` itself when `run` is still the current one) leads. */
  async leading(timeoutMs: number, after?: ControllerRun): Promise<ControllerRun> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = this.current;
      if ((after === undefined || run.index > after.index) && run.leadingAt !== undefined) return run;
      if (Date.now() > deadline)
        throw new Error(
          `no controller run led within ${String(timeoutMs / 1000)} s (run ${String(run.index)})`,
        );
      await new Promise<void>((resolve) => {
        this.#changed.push(resolve);
        setTimeout(resolve, 250);
      });
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#poller);
    clearTimeout(this.#restartTimer);
    await this.#spawning;
    await this.#process?.stop();
  }

  #spawn(): Promise<void> {
    this.#spawning = this.#startRun().catch((error: unknown) => {
      // Nothing to restart into (the cluster's folder is gone, say): say so; leading() then times out.
      process.stderr.write(`controller not restarted: ${(error as Error).message}\n`);
    });
    return this.#spawning;
  }

  async #startRun(): Promise<void> {
    const index = this.runs.length;
    const podName = `chaos-controller-${String(index)}`;
    // startController passes this process's environment on; POD_NAME is put back once the child has it.
    const podNameBefore = process.env["POD_NAME"];
    process.env["POD_NAME"] = podName;
    const child = await startController(this.#cluster, this.#options.logLevel, [
      "--leader-elect",
      ...["--leader-election-namespace", LEASE_NAMESPACE],
      ...(this.#options.extraArgs ?? []),
    ]).finally(() => {
      if (podNameBefore === undefined) delete process.env["POD_NAME"];
      else process.env["POD_NAME"] = podNameBefore;
    });
    const run: ControllerRun = { index, podName, startedAt: Date.now() };
    this.runs.push(run);
    this.#process = child;
    void child.exited.then((how) => {
      run.exitedAt = Date.now();
      run.exit = how;
      this.#notify();
      if (this.#stopped) return;
      this.#restartTimer = setTimeout(() => {
        if (!this.#stopped) void this.#spawn();
      }, this.#options.backoffMs);
    });
  }

  /** Reads the Lease every 100 ms; the current run leads once the holder is one of its identities. */
  #poll(): void {
    this.#poller = setTimeout(() => {
      void this.#leases
        .readNamespacedLease({ name: LEASE_NAME, namespace: LEASE_NAMESPACE })
        .then((lease) => {
          const run = this.runs.at(-1);
          const holder = lease.spec?.holderIdentity ?? "";
          if (run !== undefined && run.leadingAt === undefined && holder.startsWith(`${run.podName}_`)) {
            run.leadingAt = Date.now();
            this.#notify();
          }
        })
        // The API server may be down (that is what some chaos scripts do): read again at the next tick.
        .catch(() => undefined)
        .finally(() => {
          if (!this.#stopped) this.#poll();
        });
    }, 100);
  }

  #notify(): void {
    const waiting = this.#changed;
    this.#changed = [];
    for (const resolve of waiting) resolve();
  }
}
