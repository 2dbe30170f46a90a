// A rollout of N CVMs x 8 simulated H100s (one SEV-SNP host each) on the local control plane, with a fault routine
// running beside it: the shared part of bench/chaos-controller.ts, bench/chaos-control-plane.ts and their short
// versions in e2e/chaos.e2e.test.ts. The controller runs with leader election under a SupervisedController (restarted
// after each exit, as the kubelet would); the guests are simulated in this process and retry a failed answer, as a
// real guest's watch loop does. At the end it lists what the controller created and judges the invariants.
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import type { ManagedProcess } from "../../hack/lib/managed-process.ts";
import type { ConfidentialVM } from "../../operator/src/api/v1alpha1/generated/types.ts";
import {
  addSnpHosts,
  type BenchCluster,
  createCvm,
  GPUS_PER_HOST,
  inBatches,
  NS,
  snpCvm,
  startBenchCluster,
  startSimulator,
  waitForValidatedHosts,
  watchCvms,
} from "../attest-harness.ts";
import type { RolloutProgress } from "./kill-schedule.ts";
import {
  checkRolloutInvariants,
  isAttestedCvm,
  type OwnedObject,
  type RolloutInvariants,
} from "./rollout-invariants.ts";
import { providersWithoutRims, SimulatedGuests, warmHostIdentities } from "./sim-guests.ts";
import { type ControllerRun, SupervisedController } from "./supervised-controller.ts";

export interface RolloutOptions<T> {
  cvms: number;
  /** Challenges the simulated guests answer at once. */
  concurrency: number;
  /** Wait between a controller exit and its restart. */
  restartBackoffMs: number;
  /** Give up waiting for all Attested after this long (the invariants then name who did not converge). */
  timeoutMs: number;
  logLevel?: string;
  /** Runs beside the rollout from the moment the first CVM is created; its result is returned. */
  fault: (rollout: Rollout) => Promise<T>;
  /** Progress lines (stderr in the scripts). */
  log?: (line: string) => void;
}

export interface RolloutResult<T> {
  cvms: number;
  /** From creating the first CVM until all were Attested (or the timeout). */
  seconds: number;
  attested: number;
  guestAnswerFailures: number;
  guestFailureMessages: string[];
  invariants: RolloutInvariants;
  /** GPUs seen held by two CVMs at some moment of the run (the watch's view, checked every second). */
  doubleAssignedDuringRun: string[];
  /** What the GPU check had to go on: GPUs in the CVMs' status.gpus, and how many name their host PCI address. */
  gpusInStatus: { gpus: number; withPciAddress: number };
  controllerRuns: ControllerRun[];
  fault: T;
}

/** What a fault routine sees of the rollout under way. */
export class Rollout {
  readonly cluster: BenchCluster;
  readonly controller: SupervisedController;
  readonly cvms: number;
  readonly latest = new Map<string, ConfidentialVM>();
  readonly attestedAt = new Map<string, number>();
  /** Date.now() of each change the watch saw in a CVM's controller-written status (phase, conditions, challenge, VM). */
  readonly controllerWrites: number[] = [];
  created = 0;
  readonly #fingerprints = new Map<string, string>();

  constructor(cluster: BenchCluster, controller: SupervisedController, cvms: number) {
    this.cluster = cluster;
    this.controller = controller;
    this.cvms = cvms;
  }

  progress(): RolloutProgress {
    let placed = 0;
    for (const cvm of this.latest.values()) if (cvm.status?.vmName !== undefined) placed += 1;
    return { created: this.created, placed, attested: this.attestedAt.size };
  }

  /** Resolves once `predicate` holds (checked every 100 ms); throws after timeoutMs naming `what`. */
  async waitFor(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline)
        throw new Error(`timed out after ${String(timeoutMs / 1000)} s waiting for ${what}`);
      // Often: a faster controller places a dozen CVMs within a few hundred milliseconds.
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Milliseconds from `since` to the first controller write seen after it, or undefined. */
  firstControllerWriteAfter(since: number): number | undefined {
    const at = this.controllerWrites.find((t) => t >= since);
    return at === undefined ? undefined : at - since;
  }

  /** Milliseconds from `since` to the first CVM newly Attested after it, or undefined. */
  firstAttestedAfter(since: number): number | undefined {
    const after = [...this.attestedAt.values()].filter((t) => t >= since);
    return after.length === 0 ? undefined : Math.min(...after) - since;
  }

  observe(cvm: ConfidentialVM): void {
    const name = cvm.metadata.name ?? "";
    this.latest.set(name, cvm);
    if (isAttestedCvm(cvm) && !this.attestedAt.has(name)) this.attestedAt.set(name, Date.now());
    const status = cvm.status;
    const fingerprint = JSON.stringify([
      status?.phase,
      status?.conditions,
      status?.challenge?.nonce,
      status?.vmName,
    ]);
    if (this.#fingerprints.get(name) !== fingerprint) {
      this.#fingerprints.set(name, fingerprint);
      this.controllerWrites.push(Date.now());
    }
  }
}

/** The objects the controller creates in the CVMs' namespace, for the orphan and duplicate checks. */
export async function listRolloutObjects(cluster: BenchCluster): Promise<{
  cvms: ConfidentialVM[];
  virtualMachines: OwnedObject[];
  otherObjects: OwnedObject[];
}> {
  const objects = cluster.kc.makeApiClient(CustomObjectsApi);
  const core = cluster.kc.makeApiClient(CoreV1Api);
  const rbac = cluster.kc.makeApiClient(RbacAuthorizationV1Api);
  const custom = async (group: string, version: string, plural: string) =>
    (
      (await objects.listNamespacedCustomObject({ group, version, namespace: NS, plural })) as {
        items: unknown[];
      }
    ).items;
  const kinded = (kind: string, items: { metadata?: object }[]): OwnedObject[] =>
    items.map((item) => ({ kind, metadata: item.metadata ?? {} }));
  const [cvms, vms, secrets, accounts, roles, bindings] = await Promise.all([
    custom("trustgate.io", "v1alpha1", "confidentialvms"),
    custom("kubevirt.io", "v1", "virtualmachines"),
    core.listNamespacedSecret({ namespace: NS }),
    core.listNamespacedServiceAccount({ namespace: NS }),
    rbac.listNamespacedRole({ namespace: NS }),
    rbac.listNamespacedRoleBinding({ namespace: NS }),
  ]);
  return {
    cvms: cvms as ConfidentialVM[],
    virtualMachines: kinded("VirtualMachine", vms as { metadata?: object }[]),
    otherObjects: [
      ...kinded("Secret", secrets.items),
      ...kinded("ServiceAccount", accounts.items),
      ...kinded("Role", roles.items),
      ...kinded("RoleBinding", bindings.items),
    ],
  };
}

export async function runChaosRollout<T>(options: RolloutOptions<T>): Promise<RolloutResult<T>> {
  const log = options.log ?? (() => undefined);
  const cluster = await startBenchCluster("trustgate-chaos-");
  const processes: ManagedProcess[] = [];
  const controller = new SupervisedController(cluster, {
    logLevel: options.logLevel ?? "warn",
    backoffMs: options.restartBackoffMs,
  });
  // What runs in this process and must end with the rollout, also when it fails.
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const hosts = Array.from({ length: options.cvms }, (_, i) => `chaos-snp-${String(i).padStart(4, "0")}`);
    const names = Array.from({ length: options.cvms }, (_, i) => `cvm-${String(i).padStart(4, "0")}`);
    const providers = await providersWithoutRims(cluster.simPki);
    await warmHostIdentities(cluster.simPki, providers, hosts, names);
    await addSnpHosts(cluster, hosts);
    await controller.start();
    processes.push(startSimulator(cluster, { startRunning: true }));
    await controller.leading(120_000);
    await waitForValidatedHosts(cluster, options.cvms);
    log(`${String(options.cvms)} hosts validated; controller run 0 leads`);

    const rollout = new Rollout(cluster, controller, options.cvms);
    // A real guest keeps retrying while the API server is away; 60 tries a second apart outlast any restart here.
    const guests = new SimulatedGuests(cluster, providers, {
      concurrency: options.concurrency,
      retryAfterMs: 1_000,
      maxAttempts: 60,
    });
    const watch = await watchCvms(
      cluster,
      (cvm) => {
        rollout.observe(cvm);
        guests.observe(cvm);
      },
      { maxRestartDelayMs: 500 },
    );
    cleanups.push(
      () => {
        guests.close();
      },
      () => watch.stop(),
    );
    const overlaps = new Set<string>();
    const overlapCheck = setInterval(() => {
      const seen = checkRolloutInvariants({
        cvms: [...rollout.latest.values()],
        virtualMachines: [],
        otherObjects: [],
        gpusPerHost: GPUS_PER_HOST,
      });
      for (const problem of seen.doubleAssignedGpus) overlaps.add(problem);
    }, 1_000);
    cleanups.push(() => {
      clearInterval(overlapCheck);
    });

    const started = Date.now();
    const creating = inBatches(names, 50, async (name) => {
      await createCvm(cluster, snpCvm(name));
      rollout.created += 1;
    });
    const faulting = options.fault(rollout);
    // Either may fail; neither may be left unhandled while the other is awaited.
    const [created, faulted] = await Promise.allSettled([creating, faulting]);
    if (created.status === "rejected") throw created.reason;
    if (faulted.status === "rejected") throw faulted.reason;
    let lastLine = 0;
    await rollout
      .waitFor(
        "all CVMs Attested",
        () => {
          if (Date.now() - lastLine > 5_000) {
            lastLine = Date.now();
            log(
              `${String(rollout.attestedAt.size)}/${String(options.cvms)} Attested after ${((lastLine - started) / 1000).toFixed(0)} s`,
            );
          }
          return rollout.attestedAt.size >= options.cvms;
        },
        Math.max(0, started + options.timeoutMs - Date.now()),
      )
      .catch((error: unknown) => {
        log((error as Error).message);
      });
    const seconds = (Date.now() - started) / 1000;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    const listed = await listRolloutObjects(cluster);
    return {
      cvms: options.cvms,
      seconds,
      attested: rollout.attestedAt.size,
      guestAnswerFailures: guests.failures,
      guestFailureMessages: guests.failureMessages,
      invariants: checkRolloutInvariants({ ...listed, gpusPerHost: GPUS_PER_HOST }),
      doubleAssignedDuringRun: [...overlaps].sort(),
      gpusInStatus: {
        gpus: listed.cvms.reduce((n, cvm) => n + (cvm.status?.gpus?.length ?? 0), 0),
        withPciAddress: listed.cvms.reduce(
          (n, cvm) => n + (cvm.status?.gpus?.filter((g) => g.pciAddress !== undefined).length ?? 0),
          0,
        ),
      },
      controllerRuns: controller.runs,
      fault: faulted.value,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await controller.stop();
    await Promise.all(processes.map((p) => p.stop()));
    await cluster.stop();
  }
}
