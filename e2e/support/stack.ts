import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import type { ManagedProcess } from "../../hack/lib/managed-process.ts";
import type { ConfidentialVM } from "../../operator/src/api/v1alpha1/generated/types.ts";
import { createSimPki, TRUST_ROOTS_FILE } from "../../operator/src/attestation/simulated/sim-pki.ts";
import { simulatedGuestArgs } from "../../operator/test/support/guest-from-cloud-init.ts";
import { guestFilesWhenReady } from "../../operator/test/support/attestation-stack.ts";
import { removeHosts } from "../../operator/test/support/hosts.ts";
import { serviceAccountToken, writeTokenKubeconfig } from "../../operator/test/support/identities.ts";
import { installTrustgate, startFixtureAgent, SYSTEM_NS } from "../../operator/test/support/install.ts";
import { readConfidentialVM } from "../../operator/test/support/read.ts";
import { startTrustgate } from "../../operator/test/support/trustgate-process.ts";
import {
  startSimulatedCollateralServices,
  type SimulatedCollateralServices,
} from "../../operator/src/attestation/simulated/collateral-services.ts";
import { applyManifestFile } from "../../operator/test/support/apply.ts";
import { startLocalWebhook, type LocalWebhook } from "../../operator/test/support/webhook.ts";
import { startKubevirtSimulator, type KubevirtSimulator } from "../kubevirt-simulator/simulator.ts";

export interface FixtureHost {
  node: string;
  fixture: string;
  labels?: Record<string, string>;
}

const TRUSTGATE = { group: "trustgate.io", version: "v1alpha1" };

/**
 * The whole product as separate processes on the local control plane, the way a cluster runs it: one agent
 * per fixture host, the controller under its chart ServiceAccount, the test-only KubeVirt simulator, and a
 * `trustgate guest` per CVM with the simulated TDX or SEV-SNP TEE and GPUs (trusted through explicit test roots),
 * and simulated Intel PCS and AMD KDS over HTTPS, from which the controller fetches the collateral guests do not send.
 * Components can be stopped and started again, to test restarts and outages.
 */
export class TrustgateStack {
  readonly admin: KubeConfig;
  readonly dir: string;
  readonly hosts: readonly FixtureHost[];
  readonly simPki: string;
  readonly hostRoots = new Map<string, string>();
  private controller: ManagedProcess | undefined;
  private webhook: LocalWebhook | undefined;
  private simulator: KubevirtSimulator | undefined;
  private readonly processes: ManagedProcess[] = [];
  private readonly objects: CustomObjectsApi;
  /** The simulated Intel PCS/PCCS and AMD KDS the controller fetches collateral from. */
  collateral: SimulatedCollateralServices | undefined;

  constructor(admin: KubeConfig, dir: string, hosts: readonly FixtureHost[]) {
    this.admin = admin;
    this.dir = dir;
    this.hosts = hosts;
    this.simPki = join(dir, "sim-pki");
    this.objects = admin.makeApiClient(CustomObjectsApi);
  }

  async start(namespaces: string[]): Promise<void> {
    await installTrustgate(this.admin, { kubevirt: true, namespaces });
    const pki = await createSimPki(this.simPki);
    this.collateral = await startSimulatedCollateralServices({ pki });
    await writeFile(join(this.dir, "collateral-ca.pem"), this.collateral.caPem);
    for (const host of this.hosts) {
      const { process, root } = await startFixtureAgent(
        this.admin,
        { ...host, virtHandler: true },
        this.dir,
        "1s",
      );
      this.processes.push(process);
      this.hostRoots.set(host.node, root);
    }
    await this.startController();
    await applyManifestFile(this.admin, "charts/trustgate/files/rbac/webhook.yaml");
    await this.startWebhook();
    this.simulator = await startKubevirtSimulator({ kc: this.admin, log: pino({ level: "silent" }) });
  }

  async startController(): Promise<void> {
    const kubeconfig = await writeTokenKubeconfig(
      this.admin,
      await serviceAccountToken(this.admin, SYSTEM_NS, "trustgate-controller"),
      join(this.dir, "controller.kubeconfig"),
    );
    const services = this.collateral;
    if (services === undefined) throw new Error("start() the stack first");
    const args = [
      "controller",
      ...["--pccs-url", services.url, "--amd-kds-url", services.url],
      ...["--collateral-ca-file", join(this.dir, "collateral-ca.pem")],
      ...["--collateral-cache-dir", join(this.dir, "collateral-cache")],
      "--kubeconfig",
      kubeconfig,
      "--metrics-bind-address",
      "127.0.0.1:0",
    ];
    args.push("--test-trust-roots", join(this.simPki, TRUST_ROOTS_FILE));
    this.controller = startTrustgate("controller", args, this.dir);
    this.processes.push(this.controller);
  }

  /** SIGKILL: the controller gets no chance to finish anything it was doing. */
  async crashController(): Promise<void> {
    await this.controller?.stop(0);
    this.controller = undefined;
  }

  /** The admission webhook, registered through the chart's configuration; same ports on a restart. */
  async startWebhook(): Promise<void> {
    const ports =
      this.webhook === undefined
        ? undefined
        : ([this.webhook.port, this.webhook.metricsPort] as [number, number]);
    this.webhook = await startLocalWebhook(this.admin, this.dir, ports === undefined ? {} : { ports });
    this.processes.push(this.webhook.process);
  }

  async stopWebhook(): Promise<void> {
    await this.webhook?.process.stop();
  }

  /** Starts `trustgate guest` from what the controller put into the CVM's cloud-init Secret. */
  async startGuest(namespace: string, cvm: string): Promise<ManagedProcess> {
    const files = await guestFilesWhenReady(this.admin, namespace, cvm, join(this.dir, `guest-${cvm}`));
    const guest = startTrustgate(`guest-${cvm}`, simulatedGuestArgs(files, this.simPki), this.dir);
    this.processes.push(guest);
    return guest;
  }

  /** Rewrites a file of a host's fixture root, as a changed host would report it on the next scan. */
  async changeHostFile(node: string, path: string, content: string): Promise<void> {
    const root = this.hostRoots.get(node);
    if (root === undefined) throw new Error(`no fixture host ${node} in this stack`);
    await writeFile(join(root, path), content);
  }

  async fixtureFile(fixture: string, path: string): Promise<string> {
    return readFile(
      new URL(`../../operator/test/fixtures/hosts/${fixture}/${path}`, import.meta.url),
      "utf8",
    );
  }

  cvm(namespace: string, name: string): Promise<ConfidentialVM | undefined> {
    return readConfidentialVM(this.admin, namespace, name);
  }

  async createCvm(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
    await this.objects.createNamespacedCustomObject({
      ...TRUSTGATE,
      namespace,
      plural: "confidentialvms",
      body: {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialVM",
        metadata: { name, namespace },
        spec,
      },
    });
  }

  async createPolicy(name: string, spec: Record<string, unknown>): Promise<void> {
    await this.objects.createClusterCustomObject({
      ...TRUSTGATE,
      plural: "attestationpolicies",
      body: { apiVersion: "trustgate.io/v1alpha1", kind: "AttestationPolicy", metadata: { name }, spec },
    });
  }

  async stop(): Promise<void> {
    await this.simulator?.stop();
    await Promise.all(this.processes.map((p) => p.stop()));
    await this.collateral?.close();
    await removeHosts(
      this.admin,
      this.hosts.map((h) => h.node),
    );
  }
}

export function condition(
  cvm: ConfidentialVM | undefined,
  type: string,
): { status?: string; reason?: string; message?: string } {
  const found = cvm?.status?.conditions?.find((c) => c.type === type);
  return { status: found?.status, reason: found?.reason, message: found?.message };
}
