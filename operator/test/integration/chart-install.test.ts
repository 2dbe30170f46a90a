// helm install of charts/trustgate into the real local API server, then the controller and an agent
// run as processes under the chart's ServiceAccounts, RBAC and admission policies; upgrade, uninstall.
import { expect } from "chai";
import { cp, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AdmissionregistrationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  KubernetesObjectApi,
} from "@kubernetes/client-node";
import { freeLoopbackPorts, type ManagedProcess, tailFile } from "../../../hack/lib/managed-process.ts";
import { apiErrorStatus, isNotFound } from "../../src/kube/api-error.ts";
import { waitUntil } from "../support/apply.ts";
import {
  AGENT,
  canI,
  CHART,
  type Check,
  CONTROLLER,
  CRD_FILES,
  filterChecks,
  NAMESPACE,
  chartForSuite,
  prepareCluster,
  ready,
  RELEASE,
  succeeded,
  WEBHOOK,
} from "../support/chart.ts";
import { find, type Manifest, manifests, onlyContainer, withFlags } from "../support/chart-manifests.ts";
import { kubeConfig, sharedControlPlane } from "../support/control-plane.ts";
import { removeHosts } from "../support/hosts.ts";
import {
  asUser,
  podBoundToken,
  serviceAccountToken,
  writeServiceAccountKubeconfig,
  writeTokenKubeconfig,
} from "../support/identities.ts";
import { REPO_ROOT } from "../support/samples.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

describe("Helm chart charts/trustgate: helm install, then the components under the chart's ServiceAccounts", function () {
  this.timeout(120_000);
  const { chart, helm, kubectl, objectsOf } = chartForSuite();
  let admin: KubeConfig;
  let dir: string;
  const processes: ManagedProcess[] = [];
  const nodes = ["chart-node-a", "chart-node-b"];
  let installed: Manifest[] = [];

  before(async function () {
    dir = chart().dir;
    admin = await kubeConfig();
    // The install below has to adopt the CRDs that prepareCluster applies.
    await prepareCluster(admin, NAMESPACE);
  });

  after(async function () {
    await Promise.all(processes.map((p) => p.stop()));
    // Its failurePolicy is Fail and nothing serves it here: never leave it behind for later suites.
    await admin
      .makeApiClient(AdmissionregistrationV1Api)
      .deleteValidatingWebhookConfiguration({ name: WEBHOOK })
      .catch(() => undefined);
    // Leave nothing behind for later tests: the ConfidentialHost and Nodes made here.
    await removeHosts(admin, nodes);
  });

  it("installs into the local API server, adopting CRDs that kubectl applied before", async function () {
    const kubeconfig = (await sharedControlPlane()).kubeconfigPath;
    // Stale chart CRDs would replace the current ones for every test after this one.
    for (const name of CRD_FILES) {
      const [source, copy] = await Promise.all([
        readFile(join(REPO_ROOT, "crds", name)),
        readFile(join(CHART, "crds-src", name)),
      ]);
      if (!copy.equals(source)) throw new Error(`charts/trustgate/crds-src/${name} is stale; not installing`);
    }
    const install = ["install", RELEASE, CHART, "-n", NAMESPACE, "--kubeconfig", kubeconfig];
    const refused = await helm(install);
    expect(refused.code, "Helm refuses objects it does not own").to.not.equal(0);
    expect(refused.stderr).to.match(
      /CustomResourceDefinition ".*\.trustgate\.io" .* exists and cannot be imported/,
    );
    // The adoption README.md describes: mark the CRDs as the release's.
    for (const name of CRD_FILES.map((f) => `crd/${f.replace(/\.yaml$/, "")}`)) {
      succeeded(await kubectl(["label", "--overwrite", name, "app.kubernetes.io/managed-by=Helm"]), "label");
      succeeded(
        await kubectl([
          "annotate",
          "--overwrite",
          name,
          `meta.helm.sh/release-name=${RELEASE}`,
          `meta.helm.sh/release-namespace=${NAMESPACE}`,
        ]),
        "annotate",
      );
    }
    const started = Date.now();
    const out = succeeded(await helm(install), "helm install");
    console.log(`      helm install took ${String(Date.now() - started)} ms`);
    expect(out).to.include("STATUS: deployed");
    const manifest = succeeded(
      await helm(["get", "manifest", RELEASE, "-n", NAMESPACE, "--kubeconfig", kubeconfig]),
      "helm get manifest",
    );
    installed = manifests(manifest);
    // The admission policies are cluster-scoped: helm creates them like everything else.
    expect(installed.map((o) => `${o.kind}/${o.metadata.name}`)).to.include.members(
      ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"].flatMap((kind) =>
        ["agent-node-restriction", "guest-restriction"].map((suffix) => `${kind}/${RELEASE}-${suffix}`),
      ),
    );
    // Hooks (the pre-delete uninstall Job and its RBAC) are created only when they run.
    expect(installed.map((o) => `${o.kind}/${o.metadata.name}`).sort()).to.deep.equal(
      objectsOf("default")
        .filter(
          (o) =>
            (o.metadata as { annotations?: Record<string, string> }).annotations?.["helm.sh/hook"] ===
            undefined,
        )
        .map((o) => `${o.kind}/${o.metadata.name}`)
        .sort(),
    );
    const api = KubernetesObjectApi.makeApiClient(admin);
    for (const obj of installed) {
      const live = await api.read({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata });
      expect(
        live.metadata?.annotations?.["meta.helm.sh/release-name"],
        `${obj.kind}/${obj.metadata.name}`,
      ).to.equal(RELEASE);
    }
  });

  it("lets the controller's ServiceAccount do its job and nothing more (SelfSubjectAccessReview with its token)", async function () {
    const token = await serviceAccountToken(admin, NAMESPACE, CONTROLLER);
    const can = canI(asUser(admin, token));
    const allowed: Check[] = [
      ["list", "trustgate.io", "confidentialvms", ""],
      ["watch", "trustgate.io", "confidentialhosts", ""],
      ["patch", "trustgate.io", "confidentialhosts/status", ""],
      ["patch", "trustgate.io", "confidentialvms/status", "team-a"],
      ["list", "trustgate.io", "attestationpolicies", ""],
      ["patch", "", "nodes", ""],
      ["create", "kubevirt.io", "virtualmachines", "team-a"],
      ["delete", "kubevirt.io", "virtualmachines", "team-a"],
      ["watch", "kubevirt.io", "virtualmachineinstances", ""],
      ["watch", "kubevirt.io", "kubevirts", ""],
      ["create", "cdi.kubevirt.io", "datavolumes", "team-a"],
      ["create", "", "events", "team-a"],
      ["get", "coordination.k8s.io", "leases", NAMESPACE],
      ["create", "coordination.k8s.io", "leases", NAMESPACE],
      ["update", "coordination.k8s.io", "leases", NAMESPACE],
    ];
    const denied: Check[] = [
      // files/rbac/controller.yaml lets it get (and create, update) Secrets, to seal a CVM's
      // spec.secrets to its attested guest and keep its signing keys; it can never enumerate them.
      ["list", "", "secrets", ""],
      ["watch", "", "secrets", ""],
      ["list", "", "secrets", NAMESPACE],
      ["delete", "", "secrets", "team-a"],
      ["patch", "", "secrets", "team-a"],
      ["delete", "", "nodes", ""],
      ["update", "", "nodes", ""],
      ["create", "", "pods", "team-a"],
      ["create", "trustgate.io", "confidentialvms", "team-a"],
      ["delete", "trustgate.io", "confidentialhosts", ""],
      ["update", "trustgate.io", "attestationpolicies", ""],
      ["update", "kubevirt.io", "virtualmachines", "team-a"],
      // It reads KubeVirt's configuration for the preflight and never changes it.
      ["patch", "kubevirt.io", "kubevirts", "kubevirt"],
      ["update", "kubevirt.io", "kubevirts", "kubevirt"],
      ["update", "coordination.k8s.io", "leases", "kube-system"],
      ["delete", "coordination.k8s.io", "leases", NAMESPACE],
      ["create", "rbac.authorization.k8s.io", "clusterrolebindings", ""],
    ];
    expect(await filterChecks(can, allowed, false), "denied but needed").to.deep.equal([]);
    expect(await filterChecks(can, denied, true), "allowed but not needed").to.deep.equal([]);
  });

  it("lets the agent's ServiceAccount write ConfidentialHosts only, read a Node by name, and never write Nodes", async function () {
    const can = canI(asUser(admin, await serviceAccountToken(admin, NAMESPACE, AGENT)));
    const allowed: Check[] = [
      ["create", "trustgate.io", "confidentialhosts", ""],
      ["get", "trustgate.io", "confidentialhosts", ""],
      ["patch", "trustgate.io", "confidentialhosts/status", ""],
      ["get", "", "nodes", ""],
    ];
    const denied: Check[] = [
      ["patch", "", "nodes", ""],
      ["list", "", "nodes", ""],
      ["watch", "", "nodes", ""],
      ["list", "trustgate.io", "confidentialhosts", ""],
      ["patch", "trustgate.io", "confidentialhosts", ""],
      ["delete", "trustgate.io", "confidentialhosts", ""],
      ["list", "trustgate.io", "confidentialvms", ""],
      ["get", "", "secrets", NAMESPACE],
      ["update", "coordination.k8s.io", "leases", NAMESPACE],
    ];
    expect(await filterChecks(can, allowed, false), "denied but needed").to.deep.equal([]);
    expect(await filterChecks(can, denied, true), "allowed but not needed").to.deep.equal([]);
  });

  it("runs the controller and an agent with the chart's args and only the chart's RBAC and admission policy", async function () {
    const core = admin.makeApiClient(CoreV1Api);
    const hosts = admin.makeApiClient(CustomObjectsApi);
    const hostRef = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialhosts" };
    const [nodeA, nodeB] = nodes as [string, string];
    for (const name of nodes) {
      await core.createNode({ body: { metadata: { name, labels: { "kubernetes.io/hostname": name } } } });
    }
    // The controller: the rendered Deployment's args, with a kubeconfig holding a token of the
    // chart's controller ServiceAccount and a loopback metrics port.
    const [metricsPort, agentMetricsPort] = (await freeLoopbackPorts(2)) as [number, number];
    const controllerArgs = withFlags(onlyContainer(find(installed, "Deployment", CONTROLLER)).args, {
      "metrics-bind-address": `127.0.0.1:${String(metricsPort)}`,
      // The pod's cache volume, here a folder of the test's own.
      "collateral-cache-dir": join(dir, "collateral-cache"),
      "rim-cache-dir": join(dir, "collateral-cache", "rims"),
    });
    const controllerKc = await writeServiceAccountKubeconfig(admin, NAMESPACE, CONTROLLER, dir);
    const controller = startTrustgate(
      "chart-controller",
      [...controllerArgs, "--kubeconfig", controllerKc],
      dir,
    );
    processes.push(controller);
    // The agent: the rendered DaemonSet's args, a fixture host as its host root, and a token bound
    // to a pod on node A, as the kubelet would mount it. The host is one the controller refuses
    // (IOMMU off): a Validated one would stay a placement candidate for later tests' CVMs.
    const root = join(dir, "host-a");
    await cp(join(REPO_ROOT, "operator/test/fixtures/hosts/iommu-off"), root, {
      recursive: true,
      verbatimSymlinks: true,
    });
    const agentToken = await podBoundToken(admin, NAMESPACE, AGENT, nodeA);
    const agentKc = await writeTokenKubeconfig(admin, agentToken, join(dir, "agent.kubeconfig"));
    const agentArgs = withFlags(onlyContainer(find(installed, "DaemonSet", AGENT)).args, {
      "host-root": root,
      "key-file": join(dir, "agent-a.jwk"),
      interval: "1s",
      // The pod's own network namespace has port 8080 to itself; here a loopback port.
      "metrics-bind-address": `127.0.0.1:${String(agentMetricsPort)}`,
    });
    processes.push(
      startTrustgate("chart-agent", [...agentArgs, "--node-name", nodeA, "--kubeconfig", agentKc], dir),
    );

    const assertRunning = (): void => {
      for (const p of processes) if (p.hasExited()) throw new Error(`${p.name} exited`);
    };
    try {
      await waitUntil(
        "the controller to be ready (informers synced under the chart's RBAC)",
        async () => {
          assertRunning();
          return ready(metricsPort);
        },
        30_000,
      );
      // Ready (caches synced) comes before leading: a standby is ready too. Wait for the Lease.
      await waitUntil(
        "the controller to lead through the Lease in the release namespace",
        async () => {
          assertRunning();
          const lease = await admin
            .makeApiClient(CoordinationV1Api)
            .readNamespacedLease({ name: CONTROLLER, namespace: NAMESPACE })
            .catch(() => undefined);
          return (lease?.spec?.holderIdentity ?? "") !== "";
        },
        30_000,
      );
      // The agent creates and reports its host; the controller judges it (this fixture has the
      // IOMMU off), pins the agent's key and labels the Node: every write under the chart's RBAC.
      await waitUntil(
        `Node ${nodeA} labelled by the controller`,
        async () => {
          assertRunning();
          return (
            (await core.readNode({ name: nodeA })).metadata?.labels?.["trustgate.io/validated"] === "false"
          );
        },
        30_000,
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\n--- controller log:\n${tailFile(controller.logPath)}\n--- agent log:\n${tailFile(processes[1]?.logPath ?? "")}`,
        { cause: error },
      );
    }
    const host = (await hosts.getClusterCustomObject({ ...hostRef, name: nodeA })) as {
      metadata: { annotations?: Record<string, string> };
      status?: { report?: unknown; conditions?: { type: string; status: string; message: string }[] };
    };
    expect(host.status?.report, "the agent's signed report").to.not.equal(undefined);
    expect(await ready(agentMetricsPort), "the agent's readiness probe once it has published").to.equal(true);
    const validated = host.status?.conditions?.find((c) => c.type === "Validated");
    expect(validated).to.include({ status: "False" });
    expect(validated?.message).to.include("IOMMU disabled");
    expect(host.metadata.annotations?.["trustgate.io/pinned-key-id"]).to.be.a("string");

    // The chart's admission policy holds the agent to its own node.
    const agentHosts = asUser(admin, agentToken).makeApiClient(CustomObjectsApi);
    const forge = (): Promise<unknown> =>
      agentHosts.createClusterCustomObject({
        ...hostRef,
        dryRun: "All",
        body: {
          apiVersion: "trustgate.io/v1alpha1",
          kind: "ConfidentialHost",
          metadata: { name: nodeB },
          spec: {},
        },
      });
    let denial: string | undefined;
    await waitUntil("the chart's admission policy to deny the agent another node's host", async () => {
      denial = await forge().then(
        () => undefined,
        (error: unknown) => apiErrorStatus(error)?.message,
      );
      return denial !== undefined;
    });
    expect(denial).to.include(
      `the trustgate agent on node ${nodeA} may only write ConfidentialHost ${nodeA}, not ${nodeB}`,
    );
    expect(denial).to.include(`${AGENT}-node-restriction`);
  });

  it("upgrades in place and uninstalls everything but the kept CRDs", async function () {
    const kubeconfig = (await sharedControlPlane()).kubeconfigPath;
    await Promise.all(processes.map((p) => p.stop()));
    succeeded(
      await helm([
        "upgrade",
        RELEASE,
        CHART,
        "-n",
        NAMESPACE,
        "--kubeconfig",
        kubeconfig,
        "--reuse-values",
        "--set",
        "controller.workers=4",
      ]),
      "helm upgrade",
    );
    const apps = KubernetesObjectApi.makeApiClient(admin);
    const deployment = (await apps.read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: CONTROLLER, namespace: NAMESPACE },
    })) as unknown as Manifest;
    expect(onlyContainer(deployment).args).to.include("--workers=4");

    const out = succeeded(
      // No kubelet runs the pre-delete hook's Job here: chart-uninstall.test.ts runs its command itself.
      await helm(["uninstall", RELEASE, "-n", NAMESPACE, "--kubeconfig", kubeconfig, "--no-hooks"]),
      "helm uninstall",
    );
    expect(out).to.include(`release "${RELEASE}" uninstalled`);
    const api = KubernetesObjectApi.makeApiClient(admin);
    const left: string[] = [];
    for (const obj of installed) {
      const exists = await api
        .read({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata })
        .then(
          () => true,
          (error: unknown) => {
            if (isNotFound(error)) return false;
            throw error;
          },
        );
      if (exists) left.push(`${obj.kind}/${obj.metadata.name}`);
    }
    expect(left.sort()).to.deep.equal(
      CRD_FILES.map((f) => `CustomResourceDefinition/${f.replace(/\.yaml$/, "")}`),
    );
  });
});
