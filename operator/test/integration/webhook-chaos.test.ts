// Short version of bench/chaos-webhook.ts: one SIGKILL of `trustgate webhook` under the chart's configuration
// (failurePolicy Fail) on the real API server, and its restart on the same port.
import { expect } from "chai";
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { gatedNamespace, killAndRestartWebhook, type PodProbes } from "../../../bench/lib/webhook-chaos.ts";
import { applyManifestFile, waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { installTrustgate, SYSTEM_NS } from "../support/install.ts";
import { type LocalWebhook, startLocalWebhook, WEBHOOK_CONFIGURATION } from "../support/webhook.ts";

const SUFFIX = Date.now().toString(36);
const NS = `wh-chaos-${SUFFIX}`;
const FENCE = { label: "trustgate.io/webhook-chaos-test", value: SUFFIX };
const SECRET = "trustgate-webhook-tls";

describe("webhook chaos: SIGKILL and restart (real API server, failurePolicy Fail)", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  let dir: string;
  let webhook: LocalWebhook | undefined;
  let probes: PodProbes;
  const options = { fence: FENCE, extraArgs: ["--cert-secret", SECRET] };

  before(async () => {
    admin = await kubeConfig();
    dir = await makeTempDir("trustgate-webhook-chaos-");
    await installTrustgate(admin);
    await applyManifestFile(admin, "charts/trustgate/files/rbac/webhook.yaml");
    await admin
      .makeApiClient(CoreV1Api)
      .deleteNamespacedSecret({ name: SECRET, namespace: SYSTEM_NS })
      .catch(() => undefined);
    webhook = await startLocalWebhook(admin, dir, options);
    probes = await gatedNamespace(admin, NS, { [FENCE.label]: FENCE.value });
    await waitUntil(
      "the API server to call the webhook",
      async () => (await probes.labelled()) === undefined,
      30_000,
    );
  });

  after(async () => {
    await admin
      .makeApiClient(AdmissionregistrationV1Api)
      .deleteValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION })
      .catch(() => undefined);
    await webhook?.process.stop();
  });

  it("refuses labelled Pods while it is dead, leaves unlabelled ones alone, admits again soon after it is back", async () => {
    if (webhook === undefined) throw new Error("no webhook");
    const result = await killAndRestartWebhook(admin, dir, webhook, probes, {
      ...options,
      round: 1,
      downMs: 1500,
    });
    webhook = result.webhook;
    const round = result.round;
    expect(round.labelledAdmittedWhileDown, "labelled Pods admitted while down").to.equal(0);
    expect(round.labelledRefusedWhileDown).to.be.greaterThan(0);
    expect(round.refusalWhileDown).to.match(/failed calling webhook "pods\.webhook\.trustgate\.io"/);
    expect(round.unlabelledRefusedWhileDown, "unlabelled Pods refused while down").to.equal(0);
    expect(round.unlabelledAdmittedWhileDown).to.equal(round.labelledRefusedWhileDown);
    expect(round.unlabelledDeploymentsRefusedWhileDown, "unlabelled Deployments refused while down").to.equal(
      0,
    );
    expect(round.admittedAfterReadyMs).to.be.at.most(10_000);
    expect(round.admittedMs).to.be.at.least(round.listeningMs - 100);
    expect(await probes.labelled()).to.equal(undefined);
  });
});
