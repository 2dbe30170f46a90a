// `helm test` of charts/trustgate on the local API server: helm creates the test Pod and its read-only RBAC; no
// kubelet runs Pods here, so this test runs the Pod's command (`trustgate doctor`) as a process under a token of
// the Pod's ServiceAccount and reports the outcome as the Pod's phase, which helm then reads. It fails while no
// controller leads and no webhook serves, and passes once both run (as processes, under the chart's ServiceAccounts).
import { expect } from "chai";
import { join } from "node:path";
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { freeLoopbackPorts, type ManagedProcess, tailFile } from "../../../hack/lib/managed-process.ts";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { waitUntil } from "../support/apply.ts";
import {
  canI,
  CHART,
  chartForSuite,
  type Check,
  filterChecks,
  prepareCluster,
  ready,
  run,
  succeeded,
  type RunResult,
} from "../support/chart.ts";
import { find, type Manifest, manifests, onlyContainer, withFlags } from "../support/chart-manifests.ts";
import { kubeConfig, makeTempDir, sharedControlPlane } from "../support/control-plane.ts";
import {
  asUser,
  serviceAccountToken,
  writeServiceAccountKubeconfig,
  writeTokenKubeconfig,
} from "../support/identities.ts";
import { REPO_ROOT } from "../support/samples.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

const RELEASE = "tg-doctor";
const NAMESPACE = "tg-doctor";
const FULLNAME = `${RELEASE}-trustgate`;
const CONTROLLER = `${FULLNAME}-controller`;
const WEBHOOK = `${FULLNAME}-webhook`;
const TEST = `${FULLNAME}-test`;

describe("Helm chart charts/trustgate: helm test runs trustgate doctor under the test Pod's ServiceAccount", function () {
  this.timeout(180_000);
  const { helm } = chartForSuite();
  let admin: KubeConfig;
  let kubeconfig: string;
  let dir: string;
  let installed: Manifest[] = [];
  let webhookPort = 0;
  const processes: ManagedProcess[] = [];

  /** `helm test`, with this test in the kubelet's place: run the Pod's command, then write the Pod's phase. */
  async function helmTest(
    whileRunning: (token: string) => Promise<void> = () => Promise.resolve(),
  ): Promise<{ helm: RunResult; doctor: RunResult }> {
    const core = admin.makeApiClient(CoreV1Api);
    const testing = helm(["test", RELEASE, "-n", NAMESPACE, "--kubeconfig", kubeconfig, "--timeout", "120s"]);
    await waitUntil(
      "the helm test Pod",
      () =>
        core.readNamespacedPod({ namespace: NAMESPACE, name: TEST }).then(
          (p) => p.status?.phase !== "Failed" && p.status?.phase !== "Succeeded",
          () => false,
        ),
      60_000,
    );
    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: TEST });
    expect(pod.metadata?.annotations?.["helm.sh/hook"]).to.equal("test");
    expect(pod.spec?.serviceAccountName).to.equal(TEST);
    const args = pod.spec?.containers[0]?.args ?? [];
    const token = await serviceAccountToken(admin, NAMESPACE, TEST);
    const testKubeconfig = await writeTokenKubeconfig(admin, token, join(dir, "test.kubeconfig"));
    // The hook's ServiceAccount and RBAC exist only while `helm test` runs.
    await whileRunning(token);
    // In the cluster the Pod reaches <webhook>.<namespace>.svc:443; here the webhook listens on loopback.
    const doctor = await run(process.execPath, [
      join(REPO_ROOT, "operator/src/cmd/main.ts"),
      ...args,
      ...(webhookPort === 0 ? [] : ["--webhook-address", `127.0.0.1:${String(webhookPort)}`]),
      "--kubeconfig",
      testKubeconfig,
    ]);
    await core.patchNamespacedPodStatus(
      {
        namespace: NAMESPACE,
        name: TEST,
        body: { status: { phase: doctor.code === 0 ? "Succeeded" : "Failed" } },
      },
      mergePatch,
    );
    return { helm: await testing, doctor };
  }

  before(async function () {
    admin = await kubeConfig();
    kubeconfig = (await sharedControlPlane()).kubeconfigPath;
    dir = await makeTempDir("trustgate-doctor-");
    await prepareCluster(admin, NAMESPACE);
    const where = ["-n", NAMESPACE, "--kubeconfig", kubeconfig];
    succeeded(
      await helm(["install", RELEASE, CHART, ...where, "--set", "crds.enabled=false"]),
      "helm install",
    );
    installed = manifests(succeeded(await helm(["get", "manifest", RELEASE, ...where]), "helm get manifest"));
  });

  after(async function () {
    await Promise.all(processes.map((p) => p.stop()));
    await helm(["uninstall", RELEASE, "-n", NAMESPACE, "--kubeconfig", kubeconfig, "--no-hooks"]);
    // Its failurePolicy is Fail: never leave it behind for later suites.
    await admin
      .makeApiClient(AdmissionregistrationV1Api)
      .deleteValidatingWebhookConfiguration({ name: WEBHOOK })
      .catch(() => undefined);
  });

  it("fails, naming each broken check, while no controller leads and no webhook serves; its ServiceAccount reads only what the checks need", async function () {
    const { helm: out, doctor } = await helmTest(async (token) => {
      // Its ServiceAccount reads only what the checks need.
      const can = canI(asUser(admin, token));
      const allowed: Check[] = [
        ["get", "coordination.k8s.io", "leases", `${NAMESPACE}#${CONTROLLER}`],
        ["get", "", "configmaps", `${NAMESPACE}#trustgate-jwks`],
        ["get", "admissionregistration.k8s.io", "validatingwebhookconfigurations", `#${WEBHOOK}`],
      ];
      const denied: Check[] = [
        ["list", "", "configmaps", NAMESPACE],
        ["get", "", "secrets", `${NAMESPACE}#${WEBHOOK}-tls`],
        ["update", "coordination.k8s.io", "leases", `${NAMESPACE}#${CONTROLLER}`],
        ["get", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "#someone-elses"],
        ["list", "trustgate.io", "confidentialvms", ""],
      ];
      expect(await filterChecks(can, allowed, false), "denied but needed").to.deep.equal([]);
      expect(await filterChecks(can, denied, true), "allowed but not needed").to.deep.equal([]);
    });
    expect(doctor.code, `${doctor.stdout}${doctor.stderr}`).to.equal(1);
    expect(doctor.stdout).to.include(
      "ok   crds: trustgate.io/v1alpha1 serves attestationpolicies, confidentialhosts, confidentialvms",
    );
    expect(doctor.stdout).to.include(
      `FAIL controller-lease: Lease ${NAMESPACE}/${CONTROLLER} does not exist`,
    );
    expect(doctor.stdout).to.include(`FAIL jwks: ConfigMap ${NAMESPACE}/trustgate-jwks does not exist`);
    expect(doctor.stdout).to.include(`FAIL webhook: a webhook of ${WEBHOOK} has no caBundle yet`);
    expect(doctor.stderr).to.include("trustgate doctor: 3 of 4 checks failed");
    expect(out.code).to.not.equal(0);
    expect(`${out.stdout}${out.stderr}`).to.match(/Phase:\s+Failed|failed/);
  });

  it("passes once the controller (leading, JWKS published) and the webhook (TLS, caBundle) run with the chart's args", async function () {
    const [metricsPort, httpsPort, webhookMetricsPort] = (await freeLoopbackPorts(3)) as [
      number,
      number,
      number,
    ];
    const controllerArgs = withFlags(onlyContainer(find(installed, "Deployment", CONTROLLER)).args, {
      "metrics-bind-address": `127.0.0.1:${String(metricsPort)}`,
      "collateral-cache-dir": join(dir, "collateral-cache"),
    });
    const controllerKc = await writeServiceAccountKubeconfig(admin, NAMESPACE, CONTROLLER, dir);
    processes.push(
      startTrustgate("doctor-controller", [...controllerArgs, "--kubeconfig", controllerKc], dir),
    );
    const webhookArgs = withFlags(onlyContainer(find(installed, "Deployment", WEBHOOK)).args, {
      "bind-address": `127.0.0.1:${String(httpsPort)}`,
      "metrics-bind-address": `127.0.0.1:${String(webhookMetricsPort)}`,
    });
    const webhookKc = await writeServiceAccountKubeconfig(admin, NAMESPACE, WEBHOOK, dir);
    processes.push(startTrustgate("doctor-webhook", [...webhookArgs, "--kubeconfig", webhookKc], dir));
    const core = admin.makeApiClient(CoreV1Api);
    try {
      await waitUntil(
        "the controller and the webhook ready, the JWKS published",
        async () => {
          for (const p of processes) if (p.hasExited()) throw new Error(`${p.name} exited`);
          const jwks = await core
            .readNamespacedConfigMap({ namespace: NAMESPACE, name: "trustgate-jwks" })
            .then(
              () => true,
              () => false,
            );
          return jwks && (await ready(metricsPort)) && (await ready(webhookMetricsPort));
        },
        60_000,
      );
    } catch (error) {
      const logs = processes.map((p) => `--- ${p.name}:\n${tailFile(p.logPath)}`).join("\n");
      throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
    }
    webhookPort = httpsPort;
    let last: { helm: RunResult; doctor: RunResult } | undefined;
    // The Lease and the caBundle follow readiness within a few seconds.
    await waitUntil(
      "helm test to pass",
      async () => {
        last = await helmTest();
        return last.doctor.code === 0;
      },
      60_000,
    ).catch((error: unknown) => {
      throw new Error(
        `${(error as Error).message}\n${last?.doctor.stdout ?? ""}${last?.doctor.stderr ?? ""}`,
        { cause: error },
      );
    });
    const { helm: out, doctor } = last as { helm: RunResult; doctor: RunResult };
    expect(
      doctor.stdout
        .trim()
        .split("\n")
        .map((line) => line.slice(0, 4)),
    ).to.deep.equal(["ok  ", "ok  ", "ok  ", "ok  "]);
    expect(doctor.stdout).to.include(`ok   controller-lease: Lease ${NAMESPACE}/${CONTROLLER} held by`);
    expect(doctor.stdout).to.include(
      `ok   webhook: 127.0.0.1:${String(httpsPort)} answers TLS as ${WEBHOOK}.${NAMESPACE}.svc`,
    );
    succeeded(out, "helm test");
    expect(out.stdout).to.match(/Phase:\s+Succeeded/);
  });
});
