import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import {
  startSimulatedCollateralServices,
  type SimulatedCollateralServices,
} from "../../src/attestation/simulated/collateral-services.ts";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { freeLoopbackPorts, type ManagedProcess } from "../../../hack/lib/managed-process.ts";
import { startKubevirtSimulator } from "../../../e2e/kubevirt-simulator/simulator.ts";
import type { AttestationPolicySpec } from "../../src/api/v1alpha1/generated/types.ts";
import { createSimPki, TRUST_ROOTS_FILE } from "../../src/attestation/simulated/sim-pki.ts";
import { guestConfigSecretName } from "../../src/kubevirt/virtual-machine.ts";
import { isNotFound } from "../../src/kube/api-error.ts";
import { waitUntil } from "./apply.ts";
import { guestFilesFromCloudInit, type GuestFiles } from "./guest-from-cloud-init.ts";
import { removeHosts } from "./hosts.ts";
import { readConfidentialVM } from "./read.ts";
import { writeServiceAccountKubeconfig } from "./identities.ts";
import { installTrustgate, startFixtureAgent, SYSTEM_NS } from "./install.ts";
import type { PickDevices } from "./simulated-kubelet.ts";
import { OFFLINE_COLLATERAL, startTrustgate } from "./trustgate-process.ts";
import { anAttestationPolicy, SIMULATED_SNP_POLICY_SPEC } from "./builders/attestation-policy.ts";
import { kubeConfig, makeTempDir } from "./control-plane.ts";

/** Freshness of a suite's policy unless it sets its own: one challenge outlives a slow round, none expires in a run. */
const SUITE_FRESHNESS: AttestationPolicySpec["freshness"] = {
  challengeTtl: "60s",
  reattestInterval: "10m",
  resultTtl: "20m",
};

export interface AttestationStack {
  /** The simulated PKI directory (`trustgate guest --sim-pki`); the controller trusts its roots. */
  simPki: string;
  controller: ManagedProcess;
  /** The controller's /metrics, /healthz and /readyz on 127.0.0.1. */
  metricsPort: number;
  /** The simulated Intel PCS/PCCS and AMD KDS, when the options asked for them. */
  collateral?: SimulatedCollateralServices;
  /** Processes the suite started and `stop` stops with the stack (guests, for instance). */
  processes: ManagedProcess[];
  stop(): Promise<void>;
}

/**
 * What an attestation suite runs on the shared API server: trustgate installed (RBAC, admission policies),
 * a simulated TEE/GPU PKI, an AttestationPolicy, one fixture host with its agent, the controller under its
 * own ServiceAccount trusting the simulated roots (`--test-trust-roots`), and the KubeVirt simulator. By default the
 * host is a simulated SEV-SNP one and the policy one that its simulated guest satisfies.
 */
export interface AttestationStackOptions {
  dir: string;
  namespace: string;
  node: string;
  /** Fixture host (default snp-genoa-4xh100). */
  fixture?: string;
  /** The policy (default spec: SIMULATED_SNP_POLICY_SPEC). */
  policy: { name: string; spec?: AttestationPolicySpec };
  controllerArgs?: string[];
  /** Serve the simulated PKI's Intel and AMD collateral over HTTPS and point the controller at it (else: offline). */
  collateralServices?: boolean;
  /** The node's simulated kubelet device allocation (startFixtureAgent's default when unset). */
  kubelet?: { pick?: PickDevices };
}

/** A suite's `before`: the admin kubeconfig, a temp directory named `<prefix>…`, and the suite's stack in it. */
export async function startSuiteStack(
  prefix: string,
  options: Omit<AttestationStackOptions, "dir">,
): Promise<{ admin: KubeConfig; dir: string; stack: AttestationStack }> {
  const admin = await kubeConfig();
  const dir = await makeTempDir(prefix);
  return { admin, dir, stack: await startAttestationStack(admin, { ...options, dir }) };
}

export async function startAttestationStack(
  admin: KubeConfig,
  options: AttestationStackOptions,
): Promise<AttestationStack> {
  const { dir, node } = options;
  await installTrustgate(admin, { kubevirt: true, namespaces: [options.namespace] });
  const simPki = join(dir, "sim-pki");
  const pki = await createSimPki(simPki);
  const collateral =
    options.collateralServices === true ? await startSimulatedCollateralServices({ pki }) : undefined;
  const collateralArgs =
    collateral === undefined
      ? OFFLINE_COLLATERAL
      : await (async () => {
          const caFile = join(dir, "collateral-ca.pem");
          await writeFile(caFile, collateral.caPem);
          return [
            "--pccs-url",
            collateral.url,
            "--amd-kds-url",
            collateral.url,
            "--collateral-ca-file",
            caFile,
          ];
        })();
  await admin.makeApiClient(CustomObjectsApi).createClusterCustomObject({
    group: "trustgate.io",
    version: "v1alpha1",
    plural: "attestationpolicies",
    body: anAttestationPolicy(options.policy.name, {
      freshness: SUITE_FRESHNESS,
      ...(options.policy.spec ?? SIMULATED_SNP_POLICY_SPEC),
    }),
  });
  const processes: ManagedProcess[] = [];
  processes.push(
    (
      await startFixtureAgent(
        admin,
        { node, fixture: options.fixture ?? "snp-genoa-4xh100", virtHandler: true },
        dir,
        "2s",
        options.kubelet ?? {},
      )
    ).process,
  );
  const controllerKc = await writeServiceAccountKubeconfig(admin, SYSTEM_NS, "trustgate-controller", dir);
  const [metricsPort] = (await freeLoopbackPorts(1)) as [number];
  const controller = startTrustgate(
    "controller",
    [
      ...[
        "controller",
        "--kubeconfig",
        controllerKc,
        "--metrics-bind-address",
        `127.0.0.1:${String(metricsPort)}`,
      ],
      ...collateralArgs,
      ...["--test-trust-roots", join(simPki, TRUST_ROOTS_FILE), "--leader-election-namespace", SYSTEM_NS],
      ...(options.controllerArgs ?? []),
    ],
    dir,
  );
  processes.push(controller);
  const simulator = await startKubevirtSimulator({ kc: admin, log: pino({ level: "silent" }) });
  return {
    simPki,
    controller,
    metricsPort,
    ...(collateral === undefined ? {} : { collateral }),
    processes,
    async stop() {
      await simulator.stop();
      await Promise.all(processes.map((p) => p.stop()));
      await collateral?.close();
      await removeHosts(admin, [node]);
    },
  };
}

/** Waits for the CVM's cloud-init Secret, then materialises the guest's files from it in `dir`. */
export async function guestFilesWhenReady(
  admin: KubeConfig,
  namespace: string,
  name: string,
  dir: string,
): Promise<GuestFiles> {
  const core = admin.makeApiClient(CoreV1Api);
  try {
    await waitUntil(`${namespace}/${name} cloud-init Secret`, async () => {
      try {
        await core.readNamespacedSecret({ name: guestConfigSecretName(name), namespace });
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    });
  } catch (error) {
    const status = (await readConfidentialVM(admin, namespace, name))?.status;
    throw new Error(
      `${(error as Error).message}; the CVM is ${status?.phase ?? "?"}: ${status?.message ?? ""}`,
      {
        cause: error,
      },
    );
  }
  return guestFilesFromCloudInit(admin, namespace, name, dir);
}
