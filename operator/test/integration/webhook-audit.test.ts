// `trustgate webhook --mode audit` as a process under the chart's webhook RBAC (files/rbac/webhook.yaml plus
// files/rbac/webhook-audit.yaml), called by the real API server: a workload the gate would refuse is admitted
// with a warning (kubectl prints it) and a Warning Event on its ConfidentialVM; a dry run leaves no Event; the
// ConfidentialVM checks stay enforced.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { join } from "node:path";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CoreV1Event,
  CustomObjectsApi,
  type KubeConfig,
} from "@kubernetes/client-node";
import { resolveBinDir } from "../../../hack/lib/find-binaries.ts";
import { type ManagedProcess, tailFile } from "../../../hack/lib/managed-process.ts";
import { AUDIT_WARNING_PREFIX, REASON_WOULD_REFUSE } from "../../src/webhook/audit.ts";
import { applyManifestFile, waitUntil } from "../support/apply.ts";
import { anAttestationPolicy } from "../support/builders/attestation-policy.ts";
import { aConfidentialVM } from "../support/builders/confidential-vm.ts";
import { kubeConfig, makeTempDir, sharedControlPlane } from "../support/control-plane.ts";
import { installTrustgate, SYSTEM_NS } from "../support/install.ts";
import { refusal } from "../support/kube-request.ts";
import { startLocalWebhook, WEBHOOK_CONFIGURATION as VWC } from "../support/webhook.ts";

const SUFFIX = Date.now().toString(36);
const NS = `wh-audit-${SUFFIX}`;
const FENCE = "trustgate.io/webhook-audit-test";
const POLICY = `wh-audit-policy-${SUFFIX}`;
const LABEL = "trustgate.io/requires-attested-vm";
const CVM = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialvms" };
const ATP = { group: "trustgate.io", version: "v1alpha1", plural: "attestationpolicies" };
const IMAGE = `registry.example.com/trustgate/cvm@sha256:${"cd".repeat(32)}`;

describe("trustgate webhook --mode audit (a process under the chart's RBAC, called by the real API server)", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  let dir: string;
  let webhook: ManagedProcess | undefined;
  let kubectlBin: string;
  let kubeconfig: string;

  /** kubectl create of a Pod labelled for `cvm` (stdin), as a user would: its stderr shows admission warnings. */
  function createPod(
    name: string,
    cvm: string,
    extra: string[] = [],
  ): Promise<{ code: number | null; stderr: string }> {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: NS, labels: { app: "x", [LABEL]: cvm } },
      spec: { containers: [{ name: "app", image: "registry.example.com/app:1" }] },
    };
    return new Promise((resolve, reject) => {
      const child = spawn(kubectlBin, ["create", "-f", "-", "--kubeconfig", kubeconfig, ...extra], {
        stdio: ["pipe", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      child.once("error", reject);
      child.once("close", (code) => {
        resolve({ code, stderr });
      });
      child.stdin.end(JSON.stringify(pod));
    });
  }

  async function auditEvents(): Promise<CoreV1Event[]> {
    const list = await admin
      .makeApiClient(CoreV1Api)
      .listNamespacedEvent({ namespace: NS, fieldSelector: `reason=${REASON_WOULD_REFUSE}` });
    return list.items;
  }

  before(async function () {
    admin = await kubeConfig();
    dir = await makeTempDir("trustgate-webhook-audit-");
    kubectlBin = join(await resolveBinDir(), "kubectl");
    kubeconfig = (await sharedControlPlane()).kubeconfigPath;
    await installTrustgate(admin);
    await applyManifestFile(admin, "charts/trustgate/files/rbac/webhook.yaml");
    await applyManifestFile(admin, "charts/trustgate/files/rbac/webhook-audit.yaml");
    await admin
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: NS, labels: { [FENCE]: SUFFIX } } } });
    const objects = admin.makeApiClient(CustomObjectsApi);
    await objects.createClusterCustomObject({
      ...ATP,
      body: anAttestationPolicy(POLICY, {}, { labels: { [FENCE]: SUFFIX } }),
    });
    await objects.createNamespacedCustomObject({
      ...CVM,
      namespace: NS,
      body: aConfidentialVM({ tee: "tdx", policyRef: POLICY, image: { containerDisk: IMAGE } }, "pending", {
        metadata: { namespace: NS },
      }),
    });
    // The chart's RBAC names one certificate Secret: start from none, as webhook.test.ts does.
    await admin
      .makeApiClient(CoreV1Api)
      .deleteNamespacedSecret({ name: "trustgate-webhook-tls", namespace: SYSTEM_NS })
      .catch(() => undefined);
    ({ process: webhook } = await startLocalWebhook(admin, dir, {
      fence: { label: FENCE, value: SUFFIX },
      extraArgs: ["--mode", "audit"],
    }));
    // The API server loads the configuration asynchronously: a ConfidentialVM without its policy is still refused.
    const probe = () =>
      admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        ...CVM,
        namespace: NS,
        dryRun: "All",
        body: aConfidentialVM(
          { tee: "tdx", policyRef: "no-such-policy", image: { containerDisk: IMAGE } },
          "probe",
          {
            metadata: { namespace: NS },
          },
        ),
      });
    try {
      await waitUntil(
        "the API server to call the webhook",
        async () => (await refusal(probe))?.includes("trustgate:") === true,
        30_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- webhook log:\n${tailFile(webhook.logPath, 40)}`, {
        cause: error,
      });
    }
  });

  after(async function () {
    await admin
      .makeApiClient(AdmissionregistrationV1Api)
      .deleteValidatingWebhookConfiguration({ name: VWC })
      .catch(() => undefined);
    await webhook?.stop();
    await admin
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: NS })
      .catch(() => undefined);
    await admin
      .makeApiClient(CustomObjectsApi)
      .deleteClusterCustomObject({ ...ATP, name: POLICY })
      .catch(() => undefined);
  });

  it("admits a Pod whose ConfidentialVM is not attested, with a warning and a Warning Event on that ConfidentialVM", async function () {
    const created = await createPod("web-pending", "pending");
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stderr).to.include(`Warning: ${AUDIT_WARNING_PREFIX}`);
    expect(created.stderr).to.match(/ConfidentialVM .*pending/);
    await waitUntil(
      "the audit Event",
      async () => (await auditEvents()).some((e) => e.involvedObject.name === "pending"),
      15_000,
    );
    const [event] = (await auditEvents()).filter((e) => e.involvedObject.name === "pending");
    expect(event?.type).to.equal("Warning");
    expect(event?.involvedObject).to.deep.include({
      apiVersion: "trustgate.io/v1alpha1",
      kind: "ConfidentialVM",
      namespace: NS,
    });
    expect(event?.message).to.match(
      new RegExp(`^audit mode: admitted CREATE Pod ${NS}/web-pending, which enforce mode would refuse: `),
    );
  });

  it("admits a Pod for a ConfidentialVM that does not exist the same way, naming it", async function () {
    const created = await createPod("web-missing", "missing");
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stderr).to.include(AUDIT_WARNING_PREFIX);
    await waitUntil(
      "the audit Event",
      async () => (await auditEvents()).some((e) => e.involvedObject.name === "missing"),
      15_000,
    );
  });

  it("writes no Event for a dry run (no side effects on dry runs), but still warns", async function () {
    const dry = await createPod("web-dry", "dry-run-only", ["--dry-run=server"]);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stderr).to.include(AUDIT_WARNING_PREFIX);
    await createPod("web-after", "after-dry-run");
    await waitUntil(
      "the later Event",
      async () => (await auditEvents()).some((e) => e.involvedObject.name === "after-dry-run"),
      15_000,
    );
    expect((await auditEvents()).map((e) => e.involvedObject.name)).to.not.include("dry-run-only");
  });

  it("keeps enforcing the ConfidentialVM checks: a ConfidentialVM without its AttestationPolicy is refused", async function () {
    const message = await refusal(() =>
      admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        ...CVM,
        namespace: NS,
        body: aConfidentialVM(
          { tee: "tdx", policyRef: "no-such-policy", image: { containerDisk: IMAGE } },
          "orphan",
          {
            metadata: { namespace: NS },
          },
        ),
      }),
    );
    expect(message).to.match(/trustgate: .*no-such-policy/);
  });
});
