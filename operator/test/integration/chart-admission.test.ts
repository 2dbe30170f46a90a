// A second release of charts/trustgate (its CRDs left to kubectl) installed into the real local API
// server for its admission control: the webhook run with the chart's args under the chart's
// ServiceAccount and RBAC, and the guests' ValidatingAdmissionPolicy holding a guest to status.evidence.
import { expect } from "chai";
import * as https from "node:https";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  KubernetesObjectApi,
} from "@kubernetes/client-node";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { freeLoopbackPorts, type ManagedProcess, tailFile } from "../../../hack/lib/managed-process.ts";
import { apiErrorStatus, isNotFound } from "../../src/kube/api-error.ts";
import { waitUntil } from "../support/apply.ts";
import {
  canI,
  CHART,
  type ChartTools,
  chartTools,
  type Check,
  filterChecks,
  prepareCluster,
  ready,
  succeeded,
} from "../support/chart.ts";
import { find, type Manifest, manifests, onlyContainer, withFlags } from "../support/chart-manifests.ts";
import { kubeConfig, sharedControlPlane } from "../support/control-plane.ts";
import { asUser, serviceAccountToken, writeServiceAccountKubeconfig } from "../support/identities.ts";
import { loadSamples } from "../support/samples.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

// Not chart-install.test.ts's release: cluster-scoped names (ClusterRoles, the webhook configuration,
// the admission policies) derive from the release, so neither suite depends on the other's cleanup.
const RELEASE = "trustgate-chart-adm";
const NAMESPACE = RELEASE;
const CONTROLLER = `${RELEASE}-controller`;
const WEBHOOK = `${RELEASE}-webhook`;
/** The ConfidentialVM (in the release namespace) whose guest the chart's guest policy is tried on. */
const GUEST_CVM = "chart-guest-cvm";

describe("Helm chart charts/trustgate: admission control installed (the webhook and the guests' policy under a second release)", function () {
  this.timeout(120_000);
  let tools: ChartTools;
  let admin: KubeConfig;
  let dir: string;
  let kubeconfigPath: string;
  let installed: Manifest[] = [];
  const processes: ManagedProcess[] = [];

  before(async function () {
    tools = await chartTools();
    dir = tools.dir;
    admin = await kubeConfig();
    kubeconfigPath = (await sharedControlPlane()).kubeconfigPath;
    await prepareCluster(admin, NAMESPACE);
    const where = ["-n", NAMESPACE, "--kubeconfig", kubeconfigPath];
    succeeded(
      await tools.helm(["install", RELEASE, CHART, ...where, "--set", "crds.enabled=false"]),
      "helm install",
    );
    installed = manifests(
      succeeded(await tools.helm(["get", "manifest", RELEASE, ...where]), "helm get manifest"),
    );
  });

  after(async function () {
    await Promise.all(processes.map((p) => p.stop()));
    // --no-hooks: no kubelet runs the pre-delete hook's Job here (chart-uninstall.test.ts covers it).
    await tools.helm(["uninstall", RELEASE, "-n", NAMESPACE, "--kubeconfig", kubeconfigPath, "--no-hooks"]);
    // Its failurePolicy is Fail and nothing serves it here: never leave it behind for later suites.
    await admin
      .makeApiClient(AdmissionregistrationV1Api)
      .deleteValidatingWebhookConfiguration({ name: WEBHOOK })
      .catch(() => undefined);
  });

  it("lets the webhook's ServiceAccount read CVMs and policies and keep only its own Secret and caBundle", async function () {
    const can = canI(asUser(admin, await serviceAccountToken(admin, NAMESPACE, WEBHOOK)));
    const named = (check: Check, name: string): Check =>
      [...check.slice(0, 3), `${check[3]}#${name}`] as Check;
    const allowed: Check[] = [
      ["list", "trustgate.io", "confidentialvms", ""],
      ["watch", "trustgate.io", "confidentialvms", ""],
      ["list", "trustgate.io", "attestationpolicies", ""],
      ["watch", "trustgate.io", "attestationpolicies", ""],
      named(["get", "admissionregistration.k8s.io", "validatingwebhookconfigurations", ""], WEBHOOK),
      named(["patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", ""], WEBHOOK),
      named(["get", "", "secrets", NAMESPACE], `${WEBHOOK}-tls`),
      named(["update", "", "secrets", NAMESPACE], `${WEBHOOK}-tls`),
      ["create", "", "secrets", NAMESPACE],
      named(["watch", "", "configmaps", NAMESPACE], "trustgate-jwks"),
      named(["list", "", "configmaps", NAMESPACE], "trustgate-jwks"),
    ];
    const denied: Check[] = [
      ["get", "trustgate.io", "confidentialvms", "team-a"],
      ["patch", "trustgate.io", "confidentialvms", "team-a"],
      ["delete", "trustgate.io", "attestationpolicies", ""],
      ["list", "", "secrets", NAMESPACE],
      ["get", "", "secrets", NAMESPACE],
      named(["get", "", "secrets", NAMESPACE], `${CONTROLLER}-signing-keys`),
      ["create", "", "secrets", "team-a"],
      ["list", "", "configmaps", NAMESPACE],
      named(["patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", ""], "other"),
      ["list", "admissionregistration.k8s.io", "validatingwebhookconfigurations", ""],
      ["create", "", "pods", "team-a"],
    ];
    expect(await filterChecks(can, allowed, false), "denied but needed").to.deep.equal([]);
    expect(await filterChecks(can, denied, true), "allowed but not needed").to.deep.equal([]);
  });

  it("runs the webhook with the chart's args and only the chart's RBAC: certificates, caBundle, caches, JWKS", async function () {
    const [httpsPort, metricsPort] = (await freeLoopbackPorts(2)) as [number, number];
    const args = withFlags(onlyContainer(find(installed, "Deployment", WEBHOOK)).args, {
      "bind-address": `127.0.0.1:${String(httpsPort)}`,
      "metrics-bind-address": `127.0.0.1:${String(metricsPort)}`,
    });
    const kubeconfig = await writeServiceAccountKubeconfig(admin, NAMESPACE, WEBHOOK, dir);
    const jwks = JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", x: "AA", y: "AA", kid: "k" }] });
    await admin.makeApiClient(CoreV1Api).createNamespacedConfigMap({
      namespace: NAMESPACE,
      body: { metadata: { name: "trustgate-jwks" }, data: { "jwks.json": jwks } },
    });
    const webhook = startTrustgate("chart-webhook", [...args, "--kubeconfig", kubeconfig], dir);
    processes.push(webhook);
    const vwcs = admin.makeApiClient(AdmissionregistrationV1Api);
    let caBundle = "";
    try {
      await waitUntil(
        "the webhook to be ready with its certificates in place (under the chart's RBAC)",
        async () => {
          if (webhook.hasExited()) throw new Error(`the webhook exited: ${await webhook.exited}`);
          const isReady = await ready(metricsPort);
          const config = await vwcs.readValidatingWebhookConfiguration({ name: WEBHOOK });
          caBundle = Buffer.from(config.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString(
            "utf8",
          );
          const patched = (config.webhooks ?? []).every(
            (w) => w.clientConfig.caBundle === config.webhooks?.[0]?.clientConfig.caBundle,
          );
          return isReady && caBundle !== "" && patched;
        },
        30_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- webhook log:\n${tailFile(webhook.logPath)}`, {
        cause: error,
      });
    }
    const secret = await admin
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: `${WEBHOOK}-tls`, namespace: NAMESPACE });
    expect(secret.type).to.equal("kubernetes.io/tls");
    expect(Object.keys(secret.data ?? {}).sort()).to.deep.equal([
      "ca-bundle.crt",
      "ca.crt",
      "ca.key",
      "tls.crt",
      "tls.key",
    ]);
    // The JWKS over HTTPS, checked against the caBundle and the Service's DNS name, as in-cluster clients would.
    const served = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      https
        .get(
          {
            host: "127.0.0.1",
            port: httpsPort,
            path: "/.well-known/jwks.json",
            servername: `${WEBHOOK}.${NAMESPACE}.svc`,
            ca: caBundle,
            agent: false,
          },
          (response) => {
            let body = "";
            response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
            response.on("end", () => {
              resolve({ status: response.statusCode ?? 0, body });
            });
          },
        )
        .on("error", reject);
    });
    expect(served).to.deep.equal({ status: 200, body: jwks });
  });

  it("holds a guest to status.evidence of its own ConfidentialVM with the chart's admission policy", async function () {
    // A guest whose RBAC lets it patch the status of every CVM in its namespace (the controller's Role
    // names the CVM): the policy alone holds it. The release namespace is outside the webhook's gate,
    // which nothing serves here.
    const sample = loadSamples("crds/samples").find((s) => s.file.endsWith("confidentialvm-snp-h100.yaml"));
    if (sample === undefined) throw new Error("no crds/samples/confidentialvm-snp-h100.yaml");
    const meta = { name: `${GUEST_CVM}-guest`, namespace: NAMESPACE };
    const rbac = "rbac.authorization.k8s.io";
    const api = KubernetesObjectApi.makeApiClient(admin);
    const rules = [{ apiGroups: ["trustgate.io"], resources: ["confidentialvms/status"], verbs: ["patch"] }];
    for (const obj of [
      { apiVersion: "v1", kind: "ServiceAccount", metadata: meta },
      { apiVersion: `${rbac}/v1`, kind: "Role", metadata: meta, rules },
      {
        apiVersion: `${rbac}/v1`,
        kind: "RoleBinding",
        metadata: meta,
        roleRef: { apiGroup: rbac, kind: "Role", name: meta.name },
        subjects: [{ kind: "ServiceAccount", ...meta }],
      },
    ])
      await api.create(obj);
    const cvms = [GUEST_CVM, `${GUEST_CVM}-other`].map((name) => ({
      ...sample.object,
      metadata: { name, namespace: NAMESPACE },
    }));
    const guest = asUser(admin, await serviceAccountToken(admin, NAMESPACE, meta.name));
    const cvmRef = {
      group: "trustgate.io",
      version: "v1alpha1",
      plural: "confidentialvms",
      namespace: NAMESPACE,
    };
    const patchStatus = (name: string, status: object): Promise<string> =>
      guest
        .makeApiClient(CustomObjectsApi)
        .patchNamespacedCustomObjectStatus(
          // A dry run is admitted (or not) like a write, and writes nothing.
          { ...cvmRef, name, dryRun: "All", body: { status } },
          mergePatch,
        )
        .then(
          () => "allowed",
          (error: unknown) => apiErrorStatus(error)?.message ?? String(error),
        );
    try {
      for (const cvm of cvms) await api.create(cvm);
      let denial = "";
      await waitUntil("the chart's guest policy in force", async () => {
        denial = await patchStatus(GUEST_CVM, { phase: "Attested" });
        return denial !== "allowed";
      });
      expect(denial).to.include(
        "a trustgate guest may change only status.evidence; the controller owns status.phase",
      );
      // Other suites apply the file's own copy; with both in force the API server names the one it asked first.
      const fileCopy = await admin
        .makeApiClient(AdmissionregistrationV1Api)
        .readValidatingAdmissionPolicy({ name: "trustgate-guest-status-restriction" })
        .then(
          () => "|trustgate-guest-status-restriction",
          (error: unknown) => {
            if (isNotFound(error)) return "";
            throw error;
          },
        );
      expect(denial).to.match(
        new RegExp(`ValidatingAdmissionPolicy '(${RELEASE}-guest-restriction${fileCopy})'`),
      );
      const evidence = {
        nonce: "0".repeat(64),
        publicKey: { kty: "EC", crv: "P-256", x: "AA", y: "AA" },
        tee: { type: "snp", report: "AA==" },
      };
      expect(await patchStatus(`${GUEST_CVM}-other`, { evidence })).to.include(
        `a trustgate guest may only write its own ConfidentialVM, not ${NAMESPACE}/${GUEST_CVM}-other`,
      );
      expect(await patchStatus(GUEST_CVM, { evidence }), "its own evidence").to.equal("allowed");
    } finally {
      // Later suites' controllers would take them on.
      for (const cvm of cvms) {
        await api.delete(cvm).catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
      }
    }
  });
});
