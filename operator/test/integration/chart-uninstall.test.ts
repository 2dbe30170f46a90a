// helm uninstall with the chart's pre-delete hook on the local API server: helm creates the hook's ServiceAccount,
// RBAC and Job; no kubelet runs Pods here, so this test runs the Job's command as a process under a token of that
// ServiceAccount, then marks the Job complete as the Job controller would. Afterwards no Node carries a
// trustgate.io/ label and no ConfidentialVM is stuck on trustgate's finalizer.
import { expect } from "chai";
import { join } from "node:path";
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { FINALIZER, LABEL_CONFIDENTIAL_VM } from "../../src/api/v1alpha1/labels.ts";
import { isNotFound } from "../../src/kube/api-error.ts";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { waitUntil } from "../support/apply.ts";
import {
  canI,
  CHART,
  chartForSuite,
  type Check,
  filterChecks,
  prepareCluster,
  run,
  succeeded,
} from "../support/chart.ts";
import { kubeConfig, makeTempDir, sharedControlPlane } from "../support/control-plane.ts";
import { asUser, serviceAccountToken, writeTokenKubeconfig } from "../support/identities.ts";
import { REPO_ROOT } from "../support/samples.ts";

const RELEASE = "tg-uninstall";
const NAMESPACE = "tg-uninstall";
const TEAM = "tg-uninstall-team";
const FULLNAME = `${RELEASE}-trustgate`;
const HOOK = `${FULLNAME}-uninstall`;
const CVMS = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialvms" };
const VMS = { group: "kubevirt.io", version: "v1", plural: "virtualmachines" };
const NODES = ["uninstall-node-a", "uninstall-node-b"];
const DIGEST = `sha256:${"4f".repeat(32)}`;

describe("Helm chart charts/trustgate: helm uninstall runs trustgate uninstall in a pre-delete hook", function () {
  this.timeout(180_000);
  const { helm } = chartForSuite();
  let admin: KubeConfig;
  let kubeconfig: string;
  let dir: string;

  async function trustgate(
    args: string[],
    userKubeconfig: string,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return run(process.execPath, [
      join(REPO_ROOT, "operator/src/cmd/main.ts"),
      ...args,
      "--kubeconfig",
      userKubeconfig,
    ]);
  }

  async function createCvm(name: string): Promise<string> {
    const created = (await admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...CVMS,
      namespace: TEAM,
      body: {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialVM",
        metadata: { name, namespace: TEAM, finalizers: [FINALIZER] },
        spec: {
          tee: "tdx",
          policyRef: "production",
          image: { containerDisk: `registry.example.com/cvm@${DIGEST}` },
        },
      },
    })) as { metadata: { uid: string } };
    return created.metadata.uid;
  }

  async function createVm(name: string, ownerUid: string): Promise<void> {
    await admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...VMS,
      namespace: TEAM,
      body: {
        apiVersion: "kubevirt.io/v1",
        kind: "VirtualMachine",
        metadata: {
          name,
          namespace: TEAM,
          labels: { [LABEL_CONFIDENTIAL_VM]: name },
          ownerReferences: [
            {
              apiVersion: "trustgate.io/v1alpha1",
              kind: "ConfidentialVM",
              name,
              uid: ownerUid,
              controller: true,
            },
          ],
        },
        spec: { runStrategy: "Halted", template: { spec: { domain: { devices: {} } } } },
      },
    });
  }

  async function exists(api: Record<string, string>, name: string): Promise<boolean> {
    return admin
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({ ...(api as typeof CVMS), namespace: TEAM, name })
      .then(
        () => true,
        (error: unknown) => {
          if (isNotFound(error)) return false;
          throw error;
        },
      );
  }

  /** helm uninstall started, and the args of the hook Job's container once helm created it. */
  async function startUninstall(): Promise<{ uninstalling: ReturnType<typeof helm>; args: string[] }> {
    const uninstalling = helm([
      "uninstall",
      RELEASE,
      "-n",
      NAMESPACE,
      "--kubeconfig",
      kubeconfig,
      "--timeout",
      "150s",
    ]);
    const batch = admin.makeApiClient(BatchV1Api);
    await waitUntil(
      "the pre-delete hook Job",
      () =>
        batch.readNamespacedJob({ namespace: NAMESPACE, name: HOOK }).then(
          () => true,
          () => false,
        ),
      60_000,
    );
    const job = await batch.readNamespacedJob({ namespace: NAMESPACE, name: HOOK });
    expect(job.metadata?.annotations?.["helm.sh/hook"]).to.equal("pre-delete");
    expect(job.spec?.template.spec?.serviceAccountName).to.equal(HOOK);
    return { uninstalling, args: job.spec?.template.spec?.containers[0]?.args ?? [] };
  }

  /** What the Job controller writes when the Job's pod succeeded; helm then goes on. */
  async function completeHook(): Promise<void> {
    const now = new Date();
    await admin.makeApiClient(BatchV1Api).patchNamespacedJobStatus(
      {
        namespace: NAMESPACE,
        name: HOOK,
        body: {
          status: {
            startTime: now,
            completionTime: now,
            succeeded: 1,
            conditions: [
              { type: "SuccessCriteriaMet", status: "True", lastTransitionTime: now, lastProbeTime: now },
              { type: "Complete", status: "True", lastTransitionTime: now, lastProbeTime: now },
            ],
          },
        },
      },
      mergePatch,
    );
  }

  before(async function () {
    admin = await kubeConfig();
    kubeconfig = (await sharedControlPlane()).kubeconfigPath;
    dir = await makeTempDir("trustgate-uninstall-");
    await prepareCluster(admin, NAMESPACE);
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: TEAM } } }).catch(() => undefined);
    // Nothing serves the webhook here, and its failurePolicy is Fail: leave it out.
    succeeded(
      await helm([
        "install",
        RELEASE,
        CHART,
        "-n",
        NAMESPACE,
        "--kubeconfig",
        kubeconfig,
        "--set",
        "crds.enabled=false",
        "--set",
        "webhook.enabled=false",
      ]),
      "helm install",
    );
    await core.createNode({
      body: {
        metadata: {
          name: NODES[0],
          labels: {
            "trustgate.io/validated": "true",
            "trustgate.io/tee": "tdx",
            "trustgate.io/gpu-count": "8",
            "example.com/keep": "yes",
          },
          annotations: {
            "trustgate.io/owned-labels": "trustgate.io/validated,trustgate.io/tee,trustgate.io/gpu-count",
          },
        },
      },
    });
    await core.createNode({ body: { metadata: { name: NODES[1], labels: { "example.com/keep": "yes" } } } });
    await createVm("kept", await createCvm("kept"));
    await createVm("leaving", await createCvm("leaving"));
    // Deleted while nothing finalizes it: stuck on the finalizer, as after a controller is gone.
    await admin
      .makeApiClient(CustomObjectsApi)
      .deleteNamespacedCustomObject({ ...CVMS, namespace: TEAM, name: "leaving" });
  });

  after(async function () {
    const core = admin.makeApiClient(CoreV1Api);
    for (const name of NODES) await core.deleteNode({ name }).catch(() => undefined);
    const objects = admin.makeApiClient(CustomObjectsApi);
    for (const name of ["kept", "leaving", "doomed"]) {
      await objects
        .patchNamespacedCustomObject(
          {
            ...CVMS,
            namespace: TEAM,
            name,
            body: [{ op: "replace", path: "/metadata/finalizers", value: [] }],
          },
          setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
        )
        .catch(() => undefined);
      await objects.deleteNamespacedCustomObject({ ...CVMS, namespace: TEAM, name }).catch(() => undefined);
      await objects.deleteNamespacedCustomObject({ ...VMS, namespace: TEAM, name }).catch(() => undefined);
    }
    await core.deleteNamespace({ name: TEAM }).catch(() => undefined);
    await helm(["uninstall", RELEASE, "-n", NAMESPACE, "--kubeconfig", kubeconfig, "--no-hooks"]);
  });

  it("creates the hook's Job on helm uninstall; its command under the hook's ServiceAccount cleans up; then helm finishes", async function () {
    const { uninstalling, args } = await startUninstall();
    expect(args).to.deep.equal([
      "uninstall",
      "--yes",
      "--confidential-vms=release",
      `--stop-controller=${NAMESPACE}/${FULLNAME}-controller`,
      "--timeout=120s",
    ]);

    // The hook's identity: what helm created from the chart, and nothing more than the job needs.
    const token = await serviceAccountToken(admin, NAMESPACE, HOOK);
    const hookKubeconfig = await writeTokenKubeconfig(admin, token, join(dir, "hook.kubeconfig"));
    const can = canI(asUser(admin, token));
    const denied: Check[] = [
      ["delete", "", "nodes", ""],
      ["update", "", "nodes", ""],
      ["get", "", "secrets", NAMESPACE],
      ["delete", "trustgate.io", "confidentialvms", TEAM],
      ["patch", "trustgate.io", "confidentialvms/status", TEAM],
      ["patch", "apps", "deployments/scale", `${NAMESPACE}#other-deployment`],
      ["patch", "apps", "deployments", `${NAMESPACE}#${FULLNAME}-controller`],
      ["create", "kubevirt.io", "virtualmachines", TEAM],
    ];
    expect(await filterChecks(can, denied, true), "allowed but should not be").to.deep.equal([]);

    // The dry run names every step and changes nothing.
    const dry = await trustgate(
      args.filter((a) => a !== "--yes"),
      hookKubeconfig,
    );
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.include(`would scale Deployment ${NAMESPACE}/${FULLNAME}-controller to 0 replicas`);
    expect(dry.stdout).to.include(
      `would delete VirtualMachine ${TEAM}/leaving (owned by ConfidentialVM ${TEAM}/leaving)`,
    );
    expect(dry.stdout).to.include(`would remove finalizer ${FINALIZER} from ConfidentialVM ${TEAM}/kept`);
    expect(dry.stdout).to.match(
      /would remove trustgate\.io\/gpu-count, trustgate\.io\/tee, trustgate\.io\/validated, annotation trustgate\.io\/owned-labels from Node uninstall-node-a/,
    );
    expect(dry.stdout).to.not.include("uninstall-node-b");
    const core = admin.makeApiClient(CoreV1Api);
    expect(
      (await core.readNode({ name: NODES[0] ?? "" })).metadata?.labels?.["trustgate.io/validated"],
    ).to.equal("true");

    const result = await trustgate(args, hookKubeconfig);
    expect(result.code, `${result.stderr}${result.stdout}`).to.equal(0);
    expect(result.stdout).to.match(/uninstall: \d+ steps done/);
    const controller = await admin
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ namespace: NAMESPACE, name: `${FULLNAME}-controller` });
    expect(controller.spec?.replicas, "the controller is stopped first").to.equal(0);

    await completeHook();
    const out = succeeded(await uninstalling, "helm uninstall");
    expect(out).to.include(`release "${RELEASE}" uninstalled`);

    // No Node carries a trustgate.io/ label; other labels stay.
    const nodes = (await core.listNode()).items;
    const labelled = nodes.filter((n) =>
      Object.keys(n.metadata?.labels ?? {}).some((k) => k.startsWith("trustgate.io/")),
    );
    expect(labelled.map((n) => n.metadata?.name)).to.deep.equal([]);
    const nodeA = await core.readNode({ name: NODES[0] ?? "" });
    expect(nodeA.metadata?.labels?.["example.com/keep"]).to.equal("yes");
    expect(nodeA.metadata?.annotations?.["trustgate.io/owned-labels"]).to.equal(undefined);
    // No ConfidentialVM stuck: the deleted one is gone with its VM; the kept one runs on without the finalizer.
    expect(await exists(CVMS, "leaving")).to.equal(false);
    expect(await exists(VMS, "leaving")).to.equal(false);
    const kept = (await admin
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({ ...CVMS, namespace: TEAM, name: "kept" })) as {
      metadata: { finalizers?: string[] };
    };
    expect(kept.metadata.finalizers ?? []).to.not.include(FINALIZER);
    expect(await exists(VMS, "kept")).to.equal(true);
    // The hook's ServiceAccount and RBAC existed only while it ran.
    expect(
      await core.readNamespacedServiceAccount({ namespace: NAMESPACE, name: HOOK }).then(
        () => true,
        () => false,
      ),
    ).to.equal(false);
  });

  it("with uninstall.confidentialVMs=delete, deletes every ConfidentialVM and its VirtualMachine", async function () {
    const install = ["install", RELEASE, CHART, "-n", NAMESPACE, "--kubeconfig", kubeconfig];
    const values = ["crds.enabled=false", "webhook.enabled=false", "uninstall.confidentialVMs=delete"];
    succeeded(await helm([...install, ...values.flatMap((v) => ["--set", v])]), "helm install");
    await createVm("doomed", await createCvm("doomed"));
    const { uninstalling, args } = await startUninstall();
    expect(args).to.include("--confidential-vms=delete");
    const token = await serviceAccountToken(admin, NAMESPACE, HOOK);
    const result = await trustgate(
      args,
      await writeTokenKubeconfig(admin, token, join(dir, "hook-delete.kubeconfig")),
    );
    expect(result.code, `${result.stderr}${result.stdout}`).to.equal(0);
    expect(result.stdout).to.include(`done: delete ConfidentialVM ${TEAM}/doomed`);
    expect(result.stdout).to.include(
      `done: delete VirtualMachine ${TEAM}/doomed (owned by ConfidentialVM ${TEAM}/doomed)`,
    );
    await completeHook();
    succeeded(await uninstalling, "helm uninstall");
    // The CVM released by the first uninstall goes too: delete means every ConfidentialVM.
    for (const name of ["doomed", "kept"]) {
      expect(await exists(CVMS, name), `ConfidentialVM ${name}`).to.equal(false);
      expect(await exists(VMS, name), `VirtualMachine ${name}`).to.equal(false);
    }
  });
});
