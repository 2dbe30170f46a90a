import { readFileSync } from "node:fs";
import {
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Node,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { AttestationPolicy, ConfidentialHost, ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import {
  ATTESTATION_POLICY,
  CONFIDENTIAL_HOST,
  CONFIDENTIAL_VM,
  GROUP,
  VERSION,
} from "../api/v1alpha1/generated/types.ts";
import { LABEL_CONFIDENTIAL_VM } from "../api/v1alpha1/labels.ts";
import { verifyHostReport } from "../host/verify-host-report.ts";
import type { KubeVirt, VirtualMachine, VirtualMachineInstance } from "../kubevirt/generated/types.ts";
import { CDI_DATA_VOLUMES } from "../kubevirt/data-volume.ts";
import { gpuResourceDefaults } from "../kubevirt/gpu-resource-names.ts";
import type { ClusterCheckResult } from "../kubevirt/preflight.ts";
import { ServedResource } from "../kube/served-resource.ts";
import { Controller, objectKey } from "../runtime/controller.ts";
import { eventRecorder } from "../runtime/events.ts";
import { trimVirtualMachine, trimVirtualMachineInstance } from "../kubevirt/cache-trim.ts";
import { type ResourceEvent, ResourceWatch, type ResourceWatchOptions } from "../runtime/informer.ts";
import { AttestationPolicyReconciler } from "./attestationpolicy/reconciler.ts";
import { ConfidentialHostReconciler } from "./confidentialhost/reconciler.ts";
import type { AttestationDeps } from "./confidentialvm/attest.ts";
import type { AttestationObserver } from "../runtime/attestation-metrics.ts";
import { trimConfidentialVM } from "./confidentialvm/cache-trim.ts";
import { GpuLedger } from "./confidentialvm/gpu-ledger.ts";
import { LABEL_CREATED_BY } from "./confidentialvm/gpu-allocation.ts";
import { LAUNCHER_POD_SELECTOR, launcherPodOf, trimLauncherPod } from "./confidentialvm/launcher-pods.ts";
import type { GuestEndpoint } from "./confidentialvm/guest-identity-objects.ts";
import { SigningKeyStore } from "./signing-key-store.ts";
import { ConfidentialVMReconciler } from "./confidentialvm/reconciler.ts";
import { KubeVirtMonitor } from "./kubevirt-monitor.ts";

export interface ManagerOptions {
  kc: KubeConfig;
  log: Logger;
  hostStaleAfterMs: number;
  resyncMs: number;
  /** ConfidentialVM reconciles in parallel (different keys only). */
  workers?: number;
  /** `vendor:device=resource` overrides of the default GPU resource names (--gpu-resource-name). */
  gpuResourceNames?: readonly string[];
  /** The attestation handshake: result issuer, the operator's namespace (signing keys), verifier backends. */
  attestation?: {
    issuer: string;
    namespace: string;
    backends: AttestationDeps["backends"];
    /** Refuse larger `status.evidence` bundles (JSON bytes); default DEFAULT_MAX_EVIDENCE_BYTES. */
    maxEvidenceBytes?: number;
    /** Intel's early TCB evaluation for the TcbDriftSoon warning. */
    tcbDrift?: AttestationDeps["tcbDrift"];
    /** How guests reach the API server; defaults to the controller's own server and CA. */
    guestEndpoint?: GuestEndpoint;
    /** Attestation counters and stage latencies, and a hook per new signing key. */
    metrics?: AttestationObserver & { signingKeyRotated(): void };
  };
}

const POLICY_RECOUNT_MS = 2_000;

function customList<T extends KubernetesObject>(
  objects: CustomObjectsApi,
  group: string,
  version: string,
  plural: string,
) {
  return () =>
    objects.listClusterCustomObject({ group, version, plural }) as Promise<KubernetesListObject<T>>;
}

/** The controller's own API server and CA, for guests that reach the API the same way. */
function defaultGuestEndpoint(kc: KubeConfig): GuestEndpoint {
  const cluster = kc.getCurrentCluster();
  const caPem =
    cluster?.caData !== undefined
      ? Buffer.from(cluster.caData, "base64").toString("utf8")
      : cluster?.caFile !== undefined
        ? readFileSync(cluster.caFile, "utf8")
        : "";
  return { apiServer: cluster?.server ?? "", caPem };
}

/** KubeVirt's generated types say timestamps are strings where client-node says Date; both are JSON. */
function kubevirtCache<T>(watch: ResourceWatch<KubernetesObject>): {
  get(name: string, ns?: string): T | undefined;
  list(ns?: string): readonly T[];
} {
  return {
    get: (name, ns) => watch.get(name, ns) as unknown as T | undefined,
    list: (ns) => watch.list(ns) as unknown as readonly T[],
  };
}

/** The trustgate controllers over shared watch caches, with the event → key mappings between kinds. */
export class ControllerManager {
  readonly hostController: Controller;
  readonly cvmController: Controller;
  readonly policyController: Controller;
  readonly #watches: ResourceWatch<KubernetesObject>[] = [];
  readonly #hostWatches: ResourceWatch<KubernetesObject>[] = [];
  readonly #kubevirtWatches: ResourceWatch<KubernetesObject>[] = [];
  readonly #kubevirt: KubeVirtMonitor;
  readonly #cvms: ResourceWatch<ConfidentialVM>;
  readonly #hosts: ResourceWatch<ConfidentialHost>;
  readonly #log: Logger;
  #signingKeys: SigningKeyStore | undefined;

  constructor(options: ManagerOptions) {
    const { kc, log } = options;
    this.#log = log;
    const objects = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const events = eventRecorder(core, "trustgate-controller", log);

    const watch = <T extends KubernetesObject>(
      path: string,
      list: () => Promise<KubernetesListObject<T>>,
      onChange: (obj: T, event: ResourceEvent) => void,
      trim?: (obj: T) => void,
      extra: Pick<
        ResourceWatchOptions<T>,
        "logAbsent" | "onStateChange" | "maxRestartDelayMs" | "labelSelector"
      > = {},
    ) => {
      const w = new ResourceWatch<T>({
        kc,
        path,
        list,
        log,
        ...extra,
        ...(trim === undefined ? {} : { trim }),
        onEvent: (event, obj) => {
          onChange(obj, event);
        },
      });
      this.#watches.push(w as unknown as ResourceWatch<KubernetesObject>);
      return w;
    };
    const cvmKeysWhere = (predicate: (cvm: ConfidentialVM) => boolean): void => {
      for (const cvm of cvms.list()) if (predicate(cvm)) this.cvmController.enqueue(objectKey(cvm));
    };
    const unplaced = (cvm: ConfidentialVM): boolean => (cvm.status?.nodeName ?? "") === "";
    const running = (cvm: ConfidentialVM): boolean => (cvm.status?.vmInstanceUid ?? "") !== "";
    const ownerKey = (obj: KubernetesObject): void => {
      const name = obj.metadata?.labels?.[LABEL_CONFIDENTIAL_VM];
      if (name !== undefined) this.cvmController.enqueue(`${obj.metadata?.namespace ?? ""}/${name}`);
    };

    // The policies a CVM counted for (its last policyRef), so a changed policyRef recounts both.
    const policyOf = new Map<string, string>();
    const countPolicyUse = (cvm: ConfidentialVM, event: ResourceEvent): void => {
      const key = objectKey(cvm);
      const previous = policyOf.get(key);
      if (event === "delete") policyOf.delete(key);
      else policyOf.set(key, cvm.spec.policyRef);
      // Batched: a thousand CVMs created at once recount their policy a few times, not a thousand.
      for (const name of new Set([previous, cvm.spec.policyRef]))
        if (name !== undefined) this.policyController.queue.addAfter(name, POLICY_RECOUNT_MS);
    };

    const apis = `/apis/${GROUP}/${VERSION}`;
    const hosts = watch<ConfidentialHost>(
      `${apis}/${CONFIDENTIAL_HOST.plural}`,
      customList(objects, GROUP, VERSION, CONFIDENTIAL_HOST.plural),
      (host) => {
        const name = host.metadata.name ?? "";
        this.hostController.enqueue(name);
        cvmKeysWhere((cvm) => cvm.status?.nodeName === name || unplaced(cvm));
      },
    );
    const nodes = watch<V1Node>(
      "/api/v1/nodes",
      () => core.listNode(),
      (node) => {
        const name = node.metadata?.name ?? "";
        this.hostController.enqueue(name);
        // KubeVirt's labels and devices on a Node decide whether the VMs placed there can be launched.
        cvmKeysWhere((cvm) => unplaced(cvm) || (cvm.status?.nodeName === name && !running(cvm)));
      },
    );
    const cvms = watch<ConfidentialVM>(
      `${apis}/${CONFIDENTIAL_VM.plural}`,
      customList(objects, GROUP, VERSION, CONFIDENTIAL_VM.plural),
      (cvm, event) => {
        this.cvmController.enqueue(objectKey(cvm));
        // A TD rated under Intel's next TCB evaluation: its host's TcbDriftSoon follows.
        const host = cvm.status?.nodeName;
        if (host !== undefined && cvm.status?.conditions?.some((c) => c.type === "TcbDriftSoon") === true)
          this.hostController.enqueue(host);
        // A deleted CVM's GPUs are free again: CVMs waiting for a host may fit now.
        if (event === "delete") cvmKeysWhere(unplaced);
        countPolicyUse(cvm, event);
      },
      trimConfidentialVM,
    );
    const policies = watch<AttestationPolicy>(
      `${apis}/${ATTESTATION_POLICY.plural}`,
      customList(objects, GROUP, VERSION, ATTESTATION_POLICY.plural),
      (policy) => {
        this.policyController.enqueue(policy.metadata.name ?? "");
        cvmKeysWhere((cvm) => cvm.spec.policyRef === policy.metadata.name);
      },
    );
    // KubeVirt may be missing (a cluster that only validates hosts so far): its watches then report "absent" and
    // the monitor logs that once, instead of each watch warning on its own.
    const monitor = new KubeVirtMonitor(log, () => kubevirts.list() as unknown as readonly KubeVirt[]);
    const kubevirtChanged = (): void => {
      monitor.update();
      cvmKeysWhere(() => true);
    };
    const kubevirtWatch = (
      plural: string,
      onChange: (obj: KubernetesObject) => void,
      trim?: (obj: KubernetesObject) => void,
    ) => {
      const w = watch<KubernetesObject>(
        `/apis/kubevirt.io/v1/${plural}`,
        customList(objects, "kubevirt.io", "v1", plural),
        onChange,
        trim,
        // KubeVirt is often installed after trustgate: notice it within seconds (a list every 10 s is cheap).
        { logAbsent: false, onStateChange: kubevirtChanged, maxRestartDelayMs: 10_000 },
      );
      monitor.track({ path: `/apis/kubevirt.io/v1/${plural}`, state: () => w.state() });
      this.#kubevirtWatches.push(w);
      return w;
    };
    const vms = kubevirtWatch("virtualmachines", ownerKey, trimVirtualMachine);
    const vmis = kubevirtWatch("virtualmachineinstances", ownerKey, trimVirtualMachineInstance);
    const kubevirts = kubevirtWatch("kubevirts", kubevirtChanged);
    this.#kubevirt = monitor;
    const dataVolumes = new ServedResource(objects, CDI_DATA_VOLUMES);
    const gpuNames = gpuResourceDefaults(options.gpuResourceNames);
    // virt-launcher pods only: which pod runs which VMI, to read the GPUs its host reports for it.
    const launcherPods = watch<V1Pod>(
      "/api/v1/pods",
      () => core.listPodForAllNamespaces({ labelSelector: LAUNCHER_POD_SELECTOR }),
      ownerKey,
      trimLauncherPod,
      { labelSelector: LAUNCHER_POD_SELECTOR },
    );

    this.#cvms = cvms;
    this.#hosts = hosts;
    this.#hostWatches.push(hosts as unknown as ResourceWatch<KubernetesObject>, nodes);
    this.hostController = new Controller(
      new ConfidentialHostReconciler({
        hosts,
        nodes,
        objects,
        core,
        events,
        verifyReport: verifyHostReport,
        staleAfterMs: options.hostStaleAfterMs,
        cvmsOnHost: (nodeName) => cvms.list().filter((cvm) => cvm.status?.nodeName === nodeName),
      }),
      {
        log,
        workers: 2,
        resyncMs: options.resyncMs,
        allKeys: () => hosts.list().map((h) => h.metadata.name ?? ""),
      },
    );
    this.policyController = new Controller(new AttestationPolicyReconciler({ policies, cvms, objects }), {
      log,
      workers: 1,
      resyncMs: options.resyncMs,
      allKeys: () => policies.list().map((p) => p.metadata.name ?? ""),
    });
    this.cvmController = new Controller(
      new ConfidentialVMReconciler({
        cvms,
        policies,
        hosts,
        nodeLabels: () =>
          new Map(nodes.list().map((n) => [n.metadata?.name ?? "", n.metadata?.labels ?? {}])),
        vms: kubevirtCache<VirtualMachine>(vms),
        vmis: kubevirtCache<VirtualMachineInstance>(vmis),
        objects,
        events,
        ledger: new GpuLedger(),
        // The allocation decision reads only the pods of one VMI: filter by its label before mapping (1,000s).
        launcherPods: (namespace, vmiUid) =>
          launcherPods
            .list(namespace)
            .filter((pod) => pod.metadata?.labels?.[LABEL_CREATED_BY] === vmiUid)
            .map(launcherPodOf),
        kubevirt: {
          api: () => monitor.api(),
          node: (name) => nodes.get(name),
          gpuResourceDefaults: gpuNames,
          dataVolumeApi: () => dataVolumes.served(),
        },
        ...(options.attestation === undefined
          ? {}
          : {
              attestation: {
                objects,
                core,
                events,
                backends: options.attestation.backends,
                signingKey: (() => {
                  const metrics = options.attestation.metrics;
                  const store = new SigningKeyStore(
                    core,
                    options.attestation.namespace,
                    log,
                    undefined,
                    () => {
                      metrics?.signingKeyRotated();
                    },
                  );
                  this.#signingKeys = store;
                  return () => store.current();
                })(),
                issuer: options.attestation.issuer,
                allCvms: () => cvms.list(),
                ...(options.attestation.maxEvidenceBytes === undefined
                  ? {}
                  : { maxEvidenceBytes: options.attestation.maxEvidenceBytes }),
                ...(options.attestation.tcbDrift === undefined
                  ? {}
                  : { tcbDrift: options.attestation.tcbDrift }),
                ...(options.attestation.metrics === undefined
                  ? {}
                  : { metrics: options.attestation.metrics }),
              },
              guestIdentity: {
                core,
                rbac: kc.makeApiClient(RbacAuthorizationV1Api),
                endpoint: options.attestation.guestEndpoint ?? defaultGuestEndpoint(kc),
              },
            }),
      }),
      // Reconciles of different CVMs mostly wait on the API server; placement is serialized by the ledger.
      {
        log,
        workers: options.workers ?? 8,
        resyncMs: options.resyncMs,
        allKeys: () => cvms.list().map(objectKey),
      },
    );
  }

  /** Starts the watch caches (every replica keeps them warm, leader or not). */
  async startCaches(): Promise<void> {
    await Promise.all(this.#watches.map((w) => w.start()));
  }

  /**
   * Resolves once every cache the controllers need has its first list: trustgate's kinds and Nodes, and KubeVirt's
   * unless the API server says KubeVirt is not installed (ConfidentialVMs then say so in KubeVirtReady).
   */
  async synced(): Promise<void> {
    const kubevirt = new Set(this.#kubevirtWatches);
    await Promise.all(this.#watches.map((w) => (kubevirt.has(w) ? w.settled() : w.synced())));
  }

  /** The cluster-wide KubeVirt checks, for trustgate_kubevirt_ready. */
  kubevirtChecks(): ClusterCheckResult[] {
    return this.#kubevirt.checks();
  }

  /**
   * Starts each controller once the caches it reads are filled: hosts are validated even while
   * ConfidentialVM or KubeVirt resources cannot be listed yet (CRDs missing, RBAC). Keys queued by
   * the caches meanwhile (a standby's) are reconciled first.
   */
  async startControllers(): Promise<void> {
    // The JWKS is published as soon as this replica leads, before any result: guest images pin it.
    void this.#signingKeys?.current().catch((error: unknown) => {
      this.#log.error({ err: error }, "Could not load or create the result-signing keys");
    });
    await Promise.all(this.#hostWatches.map((w) => w.synced()));
    this.hostController.start();
    void this.synced().then(() => {
      this.cvmController.start();
      this.policyController.start();
    });
  }

  /** ConfidentialVMs per phase (no phase yet counts as Pending), for the metrics. */
  cvmPhaseCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const cvm of this.#cvms.list()) {
      const phase = cvm.status?.phase ?? "Pending";
      counts[phase] = (counts[phase] ?? 0) + 1;
    }
    return counts;
  }

  /** The cached ConfidentialHosts and ConfidentialVMs, read by the metrics at scrape time. */
  cachedHosts(): readonly ConfidentialHost[] {
    return this.#hosts.list();
  }

  cachedCvms(): readonly ConfidentialVM[] {
    return this.#cvms.list();
  }

  /** How many ConfidentialVMs have condition `type` True (e.g. TcbDriftSoon). */
  cvmsWithCondition(type: string): number {
    return this.#cvms
      .list()
      .filter((cvm) => cvm.status?.conditions?.some((c) => c.type === type && c.status === "True") === true)
      .length;
  }

  async stop(): Promise<void> {
    await Promise.all([this.hostController.stop(), this.cvmController.stop(), this.policyController.stop()]);
    await Promise.all(this.#watches.map((w) => w.stop()));
  }
}
