import { CoordinationV1Api } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import type { Command, ParsedArgs } from "../cli/command.ts";
import { UsageError } from "../cli/command.ts";
import { defaultTeeBackends } from "../attestation/registry.ts";
import { createLocalGpuVerifier, type LocalGpuVerifierConfig } from "../attestation/gpu/verifier.ts";
import {
  createAttestationServiceClient,
  type AttestationServiceClient,
  type RequestObserver,
} from "../attestation/collateral/attestation-service-client.ts";
import type { AttestationDeps } from "../controllers/confidentialvm/attest.ts";
import { DEFAULT_MAX_EVIDENCE_BYTES } from "../controllers/confidentialvm/appraise-cvm.ts";
import { ControllerManager } from "../controllers/manager.ts";
import { gpuResourceDefaults } from "../kubevirt/gpu-resource-names.ts";
import { createCollateralServices } from "../attestation/collateral/collateral-services.ts";
import {
  CONTROLLER_COLLATERAL_OPTIONS,
  CONTROLLER_COLLATERAL_USAGE,
  collateralSettingsFromArgs,
} from "./collateral-flags.ts";
import { kubeConfigFromFlag } from "./kubeconfig-flag.ts";
import { parseDuration } from "../runtime/duration.ts";
import { LeaderElector, leaderIdentity } from "../runtime/leader-election.ts";
import { createLogger } from "../runtime/logger.ts";
import { instrumentController, OperatorMetrics } from "../runtime/metrics.ts";
import { AttestationMetrics } from "../runtime/attestation-metrics.ts";
import { DEFAULT_METRICS_BIND_ADDRESS, startMetricsServer } from "../runtime/metrics-server.ts";

const USAGE = `Usage: trustgate controller [options]

Runs the trustgate controllers: ConfidentialHost (verifies agents' signed reports, sets Validated,
labels Nodes) and ConfidentialVM (places CVMs on validated hosts, launches their KubeVirt VMs).

  --kubeconfig <file>                   default: $KUBECONFIG, ~/.kube/config, then in-cluster
  --host-stale-after <duration>         a host report older than this is not Validated (default 5m)
  --resync <duration>                   reconcile every object this often, events or not (default 10m)
  --workers <n>                         ConfidentialVMs reconciled in parallel (default 8)
  --gpu-resource-name <vendor:device=resource>
                                        the device-plugin resource of a GPU that KubeVirt's permittedHostDevices does
                                        not list (repeatable; default NVIDIA's names, e.g. nvidia.com/GH100_H100_SXM5_80GB)
  --leader-elect                        run only while holding a coordination.k8s.io Lease (for replicas > 1)
  --leader-election-namespace <ns>      default: $POD_NAMESPACE, the ServiceAccount's namespace, trustgate-system
  --leader-election-id <name>           the Lease's name (default trustgate-controller)
  --metrics-bind-address <addr>         /metrics, /healthz, /readyz (default ${DEFAULT_METRICS_BIND_ADDRESS}; 0 turns it off)
  --attestation-issuer <iss>            "iss" of signed attestation results (default trustgate)
  --max-evidence-bytes <n>              refuse a guest's status.evidence larger than this (JSON bytes; default ${DEFAULT_MAX_EVIDENCE_BYTES})
  --rim-cache-dir <dir>                 keep NVIDIA RIMs fetched from the RIM service across restarts (each is
                                        verified again when read back; a tampered file is refused and refetched)
  --test-trust-roots <file>             TESTS AND DEMOS ONLY: also trust the simulated TEE/GPU roots in this file

Collateral (Intel TCB info, QE identity, CRLs; AMD VCEKs, cert chains, CRLs) the guest's evidence lacks, or
holds in an older issue than the operator's, comes from these services; set both to off and give
--collateral-dir for an air-gapped cluster. HTTPS_PROXY/NO_PROXY apply with NODE_USE_ENV_PROXY=1.
${CONTROLLER_COLLATERAL_USAGE}`;

function durationFlag(value: unknown, fallback: string, flag: string): number {
  try {
    return parseDuration(typeof value === "string" ? value : fallback);
  } catch (error) {
    throw new UsageError(`trustgate controller: --${flag}: ${(error as Error).message}`);
  }
}

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * Verifiers anchored in the pinned vendor roots, asking NVIDIA's services through `client`; simulated roots only
 * when a test asks for them explicitly.
 */
async function attestationBackends(
  testRoots: string | undefined,
  client: AttestationServiceClient,
  rimCache: LocalGpuVerifierConfig["rimCache"],
): Promise<AttestationDeps["backends"]> {
  if (testRoots === undefined)
    return {
      tees: defaultTeeBackends(),
      gpus: createLocalGpuVerifier({ client, ...(rimCache === undefined ? {} : { rimCache }) }),
    };
  const { simulatedBackends } = await import("../attestation/simulated/backends.ts");
  return simulatedBackends(testRoots);
}

function electionNamespace(args: ParsedArgs): string {
  const flag = text(args, "leader-election-namespace") ?? process.env["POD_NAMESPACE"];
  if (flag !== undefined && flag !== "") return flag;
  try {
    return readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim();
  } catch {
    return "trustgate-system";
  }
}

export const controllerCommand: Command = {
  name: "controller",
  summary: "Run the trustgate controllers",
  usage: USAGE,
  options: {
    kubeconfig: { type: "string" },
    "host-stale-after": { type: "string" },
    resync: { type: "string" },
    workers: { type: "string" },
    "gpu-resource-name": { type: "string", multiple: true },
    "leader-elect": { type: "boolean" },
    "leader-election-namespace": { type: "string" },
    "leader-election-id": { type: "string" },
    "metrics-bind-address": { type: "string" },
    "attestation-issuer": { type: "string" },
    "max-evidence-bytes": { type: "string" },
    "test-trust-roots": { type: "string" },
    "rim-cache-dir": { type: "string" },
    ...CONTROLLER_COLLATERAL_OPTIONS,
  },
  async run(args) {
    const staleAfterMs = durationFlag(args.values["host-stale-after"], "5m", "host-stale-after");
    const resyncMs = durationFlag(args.values["resync"], "10m", "resync");
    const workers = Number(text(args, "workers") ?? 8);
    if (!Number.isInteger(workers) || workers < 1) {
      throw new UsageError("trustgate controller: --workers must be a positive integer");
    }
    const maxEvidenceBytes = Number(text(args, "max-evidence-bytes") ?? DEFAULT_MAX_EVIDENCE_BYTES);
    if (!Number.isSafeInteger(maxEvidenceBytes) || maxEvidenceBytes < 1024) {
      throw new UsageError("trustgate controller: --max-evidence-bytes must be an integer of at least 1024");
    }
    const gpuResourceNames = (args.values["gpu-resource-name"] as string[] | undefined) ?? [];
    try {
      gpuResourceDefaults(gpuResourceNames);
    } catch (error) {
      throw new UsageError(`trustgate controller: ${(error as Error).message}`);
    }
    const collateralFlags = await collateralSettingsFromArgs(args, "controller", "services");
    const rimCacheDir = text(args, "rim-cache-dir");
    const log = createLogger("trustgate-controller");
    const kc = kubeConfigFromFlag("controller", text(args, "kubeconfig"));
    const testRoots = text(args, "test-trust-roots");
    if (testRoots !== undefined)
      log.warn({ file: testRoots }, "Trusting simulated TEE and GPU roots: for tests and demos only");
    const metrics = new OperatorMetrics();
    const attestationMetrics = new AttestationMetrics(metrics.registry);
    const observeRequest: RequestObserver = (event) => {
      if (!event.final) return;
      metrics.collateral.request(event.service, event.outcome, event.seconds);
      if (event.outcome !== "ok" && event.outcome !== "not-found")
        log.warn(
          { service: event.service, outcome: event.outcome, status: event.status },
          "Attestation service request failed",
        );
    };
    const collateral = await createCollateralServices({
      ...collateralFlags.settings,
      onLookup: (kind, outcome) => {
        metrics.collateral.lookup(kind, outcome);
      },
      onRequest: observeRequest,
    });
    for (const cache of [collateral.cache, collateral.early])
      if (cache !== undefined) metrics.collateral.track(cache);
    log.info({ sources: collateral.describe }, "Collateral sources");
    const manager = new ControllerManager({
      kc,
      log,
      hostStaleAfterMs: staleAfterMs,
      resyncMs,
      workers,
      gpuResourceNames,
      attestation: {
        issuer: text(args, "attestation-issuer") ?? "trustgate",
        namespace: electionNamespace(args),
        backends: {
          ...(await attestationBackends(
            testRoots,
            createAttestationServiceClient({ onRequest: observeRequest }),
            rimCacheDir === undefined
              ? undefined
              : {
                  dir: rimCacheDir,
                  onProblem: (id, message) => {
                    log.warn({ rim: id }, message);
                  },
                },
          )),
          ...(collateral.describe.length === 0 ? {} : { collateral: collateral.source }),
          ...(collateralFlags.deadlineMs === undefined
            ? {}
            : { collateralDeadlineMs: collateralFlags.deadlineMs }),
          ...(collateralFlags.settings.staleGraceMs === undefined
            ? {}
            : { collateralGraceMs: collateralFlags.settings.staleGraceMs }),
        },
        maxEvidenceBytes,
        ...(collateral.early === undefined
          ? {}
          : { tcbDrift: { early: collateral.early, collateral: collateral.source } }),
        metrics: attestationMetrics,
      },
    });

    instrumentController(manager.hostController, metrics);
    instrumentController(manager.cvmController, metrics);
    instrumentController(manager.policyController, metrics);
    metrics.trackKubeVirt(() => manager.kubevirtChecks());
    attestationMetrics.track({ hosts: () => manager.cachedHosts(), cvms: () => manager.cachedCvms() });
    const phaseTimer = setInterval(() => {
      metrics.setConfidentialVMPhases(manager.cvmPhaseCounts());
      metrics.setTcbDriftSoon(manager.cvmsWithCondition("TcbDriftSoon"));
    }, 5_000);
    phaseTimer.unref();

    const elector =
      args.values["leader-elect"] === true
        ? new LeaderElector({
            leases: kc.makeApiClient(CoordinationV1Api),
            namespace: electionNamespace(args),
            name: text(args, "leader-election-id") ?? "trustgate-controller",
            identity: leaderIdentity(process.env["POD_NAME"]),
            log,
            onStartedLeading: () => {
              log.info("Became leader; starting controllers");
              void manager.startControllers();
            },
            onStoppedLeading: () => {
              log.error("Lost leadership; exiting so no two replicas reconcile at once");
              process.exit(1);
            },
          })
        : undefined;
    if (elector !== undefined) metrics.trackLeader(elector.identity, () => elector.isLeader());

    let synced = false;
    const bind = text(args, "metrics-bind-address") ?? DEFAULT_METRICS_BIND_ADDRESS;
    const server =
      bind === "0"
        ? undefined
        : await startMetricsServer({
            address: bind,
            metrics,
            log,
            readinessChecks: [
              // KubeVirt's caches count only when KubeVirt is installed; without it the controller validates hosts
              // and trustgate_kubevirt_ready and each ConfidentialVM's KubeVirtReady say what is missing.
              { name: "informers-synced", ready: () => synced },
              { name: "leader-election", ready: () => elector === undefined || elector.state !== "stopped" },
            ],
          });

    await manager.startCaches();
    void manager.synced().then(() => {
      synced = true;
    });
    if (elector === undefined) await manager.startControllers();
    else {
      elector.run().catch((error: unknown) => {
        log.error({ err: error }, "Leader election failed; exiting");
        process.exit(1);
      });
    }
    log.info(
      { staleAfterMs, resyncMs, workers, leaderElection: elector !== undefined },
      "Started trustgate controller",
    );

    await new Promise<void>((resolve) => {
      process.once("SIGTERM", () => {
        resolve();
      });
      process.once("SIGINT", () => {
        resolve();
      });
    });
    log.info("Stopping trustgate controller");
    await manager.stop();
    await elector?.release();
    await server?.close();
    return 0;
  },
};
