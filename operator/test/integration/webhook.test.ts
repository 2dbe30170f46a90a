// `trustgate webhook` as a process under the chart's webhook RBAC, registered with the real API server through
// the chart's own ValidatingWebhookConfiguration (pointed at 127.0.0.1: there is no Service routing here).
import { expect } from "chai";
import { expectLoggerFormat, readLogLines } from "../support/log-lines.ts";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
} from "@kubernetes/client-node";
import { mergePatch, strategicMergePatch } from "../../src/kube/merge-patch.ts";
import { httpsGet } from "../../../hack/lib/https-get.ts";
import { type ManagedProcess, tailFile } from "../../../hack/lib/managed-process.ts";
import { signAttestationResult } from "../../src/attestation/result/result-token.ts";
import { generateSigningKey, publicJwks } from "../../src/attestation/result/signing-keys.ts";
import { applyManifestFile, waitUntil } from "../support/apply.ts";
import { startLocalWebhook, WEBHOOK_CONFIGURATION as VWC } from "../support/webhook.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { installTrustgate, SYSTEM_NS } from "../support/install.ts";
import { REPO_ROOT } from "../support/samples.ts";
import { aConfidentialVM } from "../support/builders/confidential-vm.ts";
import { attestedStatus } from "../support/builders/admission-requests.ts";
import { refusal } from "../support/kube-request.ts";
import { anAttestationPolicy } from "../support/builders/attestation-policy.ts";
import { WEBHOOK_SERIES } from "../../src/runtime/exported-series.ts";

const SUFFIX = Date.now().toString(36);
const NS = `wh-${SUFFIX}`;
const UNGATED = `wh-ungated-${SUFFIX}`;
const TEST_LABEL = "trustgate.io/webhook-test";
const SECRET = "trustgate-webhook-tls";
const POLICY = `wh-policy-${SUFFIX}`;
const LABEL = "trustgate.io/requires-attested-vm";
const CVM = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialvms" };
const ATP = { group: "trustgate.io", version: "v1alpha1", plural: "attestationpolicies" };
const IMAGE = `registry.example.com/trustgate/cvm@sha256:${"ab".repeat(32)}`;

describe("trustgate webhook (a process under the chart's webhook RBAC, called by the real API server)", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  let dir: string;
  let webhook: ManagedProcess;
  let metricsPort = 0;
  let port: number;
  let caBundle = "";
  const objects = () => admin.makeApiClient(CustomObjectsApi);
  const core = () => admin.makeApiClient(CoreV1Api);
  const admission = () => admin.makeApiClient(AdmissionregistrationV1Api);

  const pod = (name: string, cvm: string | undefined, namespace = NS) =>
    core().createNamespacedPod({
      namespace,
      dryRun: "All",
      body: {
        metadata: { name, labels: cvm === undefined ? { app: "x" } : { app: "x", [LABEL]: cvm } },
        spec: { containers: [{ name: "app", image: "registry.example.com/app:1" }] },
      },
    });
  const deployment = (cvm: string, on: "object" | "template") =>
    admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: NS,
      dryRun: "All",
      body: {
        metadata: { name: `web-${cvm}`, labels: on === "object" ? { [LABEL]: cvm } : {} },
        spec: {
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web", ...(on === "template" ? { [LABEL]: cvm } : {}) } },
            spec: { containers: [{ name: "app", image: "registry.example.com/app:1" }] },
          },
        },
      },
    });
  const createCvm = (name: string, policyRef: string, dryRun = false) =>
    objects().createNamespacedCustomObject({
      ...CVM,
      namespace: NS,
      ...(dryRun ? { dryRun: "All" } : {}),
      body: aConfidentialVM({ tee: "snp", policyRef, image: { containerDisk: IMAGE } }, name, {
        metadata: { namespace: NS },
      }),
    });
  const setAttested = (
    name: string,
    status: "True" | "False",
    expiresAt: Date,
    reason: string,
    message: string,
  ) =>
    objects().patchNamespacedCustomObjectStatus(
      { ...CVM, namespace: NS, name, body: { status: attestedStatus(status, expiresAt, reason, message) } },
      mergePatch,
    );
  const webhookLog = (): string => `\n--- webhook log:\n${tailFile(webhook.logPath, 40)}`;

  before(async function () {
    admin = await kubeConfig();
    dir = await makeTempDir("trustgate-webhook-");
    await installTrustgate(admin);
    await applyManifestFile(admin, "charts/trustgate/files/rbac/webhook.yaml");
    for (const [name, labels] of [
      [NS, { [TEST_LABEL]: SUFFIX }],
      [UNGATED, {}],
    ] as const) {
      await core().createNamespace({ body: { metadata: { name, labels } } });
    }
    await objects().createClusterCustomObject({
      ...ATP,
      body: anAttestationPolicy(POLICY, {}, { labels: { [TEST_LABEL]: SUFFIX } }),
    });
    for (const name of ["attested", "failed", "expired"]) await createCvm(name, POLICY);
    const hour = 3_600_000;
    await setAttested("attested", "True", new Date(Date.now() + hour), "Affirming", "attested");
    await setAttested(
      "failed",
      "False",
      new Date(Date.now() + hour),
      "EvidenceInvalid",
      "quote signature invalid",
    );
    await setAttested("expired", "True", new Date(Date.now() - 1_000), "Affirming", "attested");

    await core()
      .deleteNamespacedSecret({ name: SECRET, namespace: SYSTEM_NS })
      .catch(() => undefined);
    ({
      process: webhook,
      port,
      metricsPort,
      caBundle,
    } = await startLocalWebhook(admin, dir, {
      fence: { label: TEST_LABEL, value: SUFFIX },
      extraArgs: [
        ...["--cert-secret", SECRET],
        // Short enough that the suite sees a renewal (at 2/3: every 8 s), long enough for a loaded machine.
        ...["--cert-lifetime", "12s", "--ca-lifetime", "1h", "--cert-check-interval", "1s"],
      ],
    }));
    try {
      // The API server loads the configuration asynchronously: wait until it calls the webhook.
      await waitUntil(
        "the API server to call the webhook",
        async () => (await refusal(() => pod("probe", "nope")))?.includes("trustgate:") === true,
        30_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}${webhookLog()}`, { cause: error });
    }
  });

  after(async function () {
    await admission()
      .deleteValidatingWebhookConfiguration({ name: VWC })
      .catch(() => undefined);
    await webhook.stop();
  });

  it("serves a certificate for 127.0.0.1 signed by the CA it put into the caBundle", async () => {
    const ca = new X509Certificate(caBundle);
    expect(ca.ca).to.equal(true);
    const served = await new Promise<X509Certificate>((resolve, reject) => {
      import("node:tls")
        .then(({ connect }) => {
          const socket = connect({ host: "127.0.0.1", port, ca: caBundle, servername: "" }, () => {
            const peer = socket.getPeerX509Certificate();
            socket.end();
            if (peer === undefined) reject(new Error("no peer certificate"));
            else resolve(peer);
          });
          socket.on("error", reject);
        })
        .catch(reject);
    });
    expect(served.verify(ca.publicKey)).to.equal(true);
    expect(served.subjectAltName).to.include("IP Address:127.0.0.1");
    expect(served.subjectAltName).to.include(`DNS:trustgate-webhook.${SYSTEM_NS}.svc`);
    expect(served.publicKey.asymmetricKeyDetails).to.deep.include({ namedCurve: "prime256v1" });
  });

  it("admits a Pod labelled for an Attested CVM, and an unlabelled Pod", async () => {
    expect(await refusal(() => pod("ok", "attested"))).to.equal(undefined);
    expect(await refusal(() => pod("plain", undefined))).to.equal(undefined);
  });

  it("refuses Pods for a missing, a failed and an expired CVM, saying which and why", async () => {
    const prefix = `admission webhook "pods.webhook.trustgate.io" denied the request: trustgate: Pod ${NS}/`;
    expect(await refusal(() => pod("a", "nope"))).to.equal(
      `${prefix}a requires an attested ConfidentialVM: ConfidentialVM ${NS}/nope not found`,
    );
    expect(await refusal(() => pod("b", "failed"))).to.equal(
      `${prefix}b requires an attested ConfidentialVM: ConfidentialVM ${NS}/failed not attested: EvidenceInvalid: quote signature invalid`,
    );
    expect(await refusal(() => pod("c", "expired"))).to.match(
      new RegExp(`ConfidentialVM ${NS}/expired attestation expired at \\d{4}-\\d\\d-\\d\\dT`),
    );
  });

  it("gates an admitted Pod's image changes and ephemeral containers once its CVM is no longer attested", async () => {
    // Its own policy, so the policy-deletion case below counts only its own CVMs.
    await objects().createClusterCustomObject({
      ...ATP,
      body: anAttestationPolicy(`${POLICY}-lapsing`, {}, { labels: { [TEST_LABEL]: SUFFIX } }),
    });
    await waitUntil(
      "the webhook sees the policy",
      async () => (await refusal(() => createCvm("lapsing", `${POLICY}-lapsing`, true))) === undefined,
      30_000,
    );
    await createCvm("lapsing", `${POLICY}-lapsing`);
    await setAttested("lapsing", "True", new Date(Date.now() + 3_600_000), "Affirming", "attested");
    await waitUntil(
      "the webhook sees lapsing Attested",
      async () => (await refusal(() => pod("probe-lapsing", "lapsing"))) === undefined,
      30_000,
    );
    await core().createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: "running-app", labels: { app: "x", [LABEL]: "lapsing" } },
        spec: { containers: [{ name: "app", image: "registry.example.com/app:1" }] },
      },
    });
    await setAttested(
      "lapsing",
      "False",
      new Date(Date.now() + 3_600_000),
      "InstanceChanged",
      "a new VM instance",
    );
    const prefix = `admission webhook "pods.webhook.trustgate.io" denied the request: trustgate: Pod ${NS}/running-app`;
    const patchPod = (body: object) =>
      core().patchNamespacedPod({ name: "running-app", namespace: NS, body }, strategicMergePatch);
    await waitUntil(
      "an image change refused",
      async () =>
        (
          await refusal(() =>
            patchPod({ spec: { containers: [{ name: "app", image: "registry.example.com/evil:1" }] } }),
          )
        )?.startsWith(prefix) === true,
      30_000,
    );
    expect(
      await refusal(() =>
        patchPod({
          metadata: { labels: { [LABEL]: null } },
          spec: { containers: [{ name: "app", image: "registry.example.com/evil:1" }] },
        }),
      ),
      "dropping the label with the image change",
    ).to.include(`ConfidentialVM ${NS}/lapsing not attested: InstanceChanged`);
    const debug = await refusal(() =>
      core().patchNamespacedPodEphemeralcontainers(
        {
          name: "running-app",
          namespace: NS,
          body: {
            spec: { ephemeralContainers: [{ name: "debug", image: "busybox", targetContainerName: "app" }] },
          },
        },
        strategicMergePatch,
      ),
    );
    expect(debug).to.include("not attested: InstanceChanged");
    expect(await refusal(() => patchPod({ metadata: { labels: { team: "a" } } })), "a label change").to.equal(
      undefined,
    );
  });

  it("gates Deployments by the label on the object or only on the pod template (CEL match condition)", async () => {
    expect(await refusal(() => deployment("attested", "template"))).to.equal(undefined);
    expect(await refusal(() => deployment("attested", "object"))).to.equal(undefined);
    expect(await refusal(() => deployment("failed", "template"))).to.include(
      `admission webhook "workloads.webhook.trustgate.io" denied the request: trustgate: Deployment ${NS}/web-failed requires an attested ConfidentialVM: ConfidentialVM ${NS}/failed not attested: EvidenceInvalid`,
    );
    expect(await refusal(() => deployment("nope", "object"))).to.include(
      `ConfidentialVM ${NS}/nope not found`,
    );
  });

  it("refuses a ConfidentialVM whose AttestationPolicy does not exist", async () => {
    expect(await refusal(() => createCvm("dry", POLICY, true))).to.equal(undefined);
    expect(await refusal(() => createCvm("dry", "no-such-policy", true))).to.include(
      `spec.policyRef: AttestationPolicy "no-such-policy" not found`,
    );
  });

  it("refuses deleting an AttestationPolicy while ConfidentialVMs reference it, naming them; allows it after", async () => {
    const remove = () => objects().deleteClusterCustomObject({ ...ATP, name: POLICY });
    expect(await refusal(remove)).to.equal(
      `admission webhook "attestationpolicies.webhook.trustgate.io" denied the request: trustgate: AttestationPolicy "${POLICY}" is still referenced by 3 ConfidentialVMs: ${NS}/attested, ${NS}/expired, ${NS}/failed; delete them or change their spec.policyRef first`,
    );
    await objects().deleteNamespacedCustomObject({ ...CVM, namespace: NS, name: "expired" });
    await objects().deleteNamespacedCustomObject({ ...CVM, namespace: NS, name: "failed" });
    await waitUntil("the webhook's cache to drop the deleted CVMs", async () =>
      (
        (await refusal(() => objects().deleteClusterCustomObject({ ...ATP, name: POLICY, dryRun: "All" }))) ??
        ""
      ).includes("referenced by 1 ConfidentialVM:"),
    );
    await objects().deleteNamespacedCustomObject({ ...CVM, namespace: NS, name: "attested" });
    await waitUntil("the policy to be deletable", async () => (await refusal(remove)) === undefined);
  });

  it("serves the controller's JWKS over HTTPS (verified against the caBundle) that verify-token accepts", async () => {
    const key = await generateSigningKey(new Date());
    const jwks = JSON.stringify(publicJwks([key]));
    const body = { metadata: { name: "trustgate-jwks", namespace: SYSTEM_NS }, data: { "jwks.json": jwks } };
    await core()
      .replaceNamespacedConfigMap({ name: "trustgate-jwks", namespace: SYSTEM_NS, body })
      .catch(() => core().createNamespacedConfigMap({ namespace: SYSTEM_NS, body }));
    const url = `https://127.0.0.1:${String(port)}/.well-known/jwks.json`;
    await waitUntil("the webhook to serve the new JWKS", async () => {
      const response = await httpsGet(url, { ca: caBundle });
      return response.status === 200 && response.body === jwks;
    });
    const token = await signAttestationResult(
      {
        issuer: "trustgate",
        subject: `${NS}/attested`,
        nonce: "11".repeat(32),
        guestKeyThumbprint: "abc",
        verdict: "affirming",
        submods: {},
        issuedAt: new Date(),
        expiresAt: new Date(Date.now() + 3_600_000),
      },
      key,
    );
    const caFile = join(dir, "ca-bundle.pem");
    await writeFile(caFile, caBundle);
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          join(REPO_ROOT, "operator/src/cmd/main.ts"),
          "verify-token",
          token,
          "--jwks",
          url,
          "--ca-file",
          caFile,
        ],
        (error, stdout, stderr) => {
          resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
        },
      );
    });
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.deep.include({ valid: true });
  });

  it("renews its serving certificate before expiry without a restart, keeping the CA and admitting throughout", async () => {
    const secret = async () =>
      (await core().readNamespacedSecret({ name: SECRET, namespace: SYSTEM_NS })).data ?? {};
    const first = await secret();
    await waitUntil(
      "a renewed serving certificate in the Secret",
      async () => (await secret())["tls.crt"] !== first["tls.crt"],
      30_000,
    );
    const renewed = await secret();
    expect(renewed["ca.crt"], "the CA is kept").to.equal(first["ca.crt"]);
    const pem = Buffer.from(renewed["tls.crt"] ?? "", "base64").toString("utf8");
    await waitUntil("the webhook to serve the renewed certificate", async () => {
      const { connect } = await import("node:tls");
      const fingerprint = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port, ca: caBundle }, () => {
          resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? "");
          socket.end();
        });
        socket.on("error", reject);
      });
      return fingerprint === new X509Certificate(pem).fingerprint256;
    });
    const config = await admission().readValidatingWebhookConfiguration({ name: VWC });
    expect(
      Buffer.from(config.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString("utf8"),
    ).to.equal(caBundle);
    expect(await refusal(() => pod("after-renewal", "nope"))).to.include("not found");
  });

  it("logs JSON lines with string levels and ISO-8601 times, as every component does", async () => {
    const lines = await readLogLines(webhook.logPath, { jsonOnly: true });
    expect(lines.length).to.be.above(1);
    for (const line of lines) {
      expectLoggerFormat(line);
      expect(line.name).to.equal("trustgate-webhook");
    }
    expect(lines.map((l) => l.msg)).to.include("Serving metrics");
  });

  it("exports its series on /metrics: admissions allowed and denied, their latency, the serving certificate's expiry", async () => {
    const text = await (await fetch(`http://127.0.0.1:${String(metricsPort)}/metrics`)).text();
    const sum = (prefix: string, filter: RegExp): number =>
      text
        .split("\n")
        .filter((l) => l.startsWith(prefix) && filter.test(l))
        .reduce((total, l) => total + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    for (const family of WEBHOOK_SERIES) expect(text, family).to.include(`# TYPE ${family} `);
    expect(sum("trustgate_webhook_admission_total{", /allowed="true"/), text).to.be.greaterThan(0);
    expect(sum("trustgate_webhook_admission_total{", /allowed="false",code="403"/), text).to.be.greaterThan(
      0,
    );
    expect(sum("trustgate_webhook_admission_duration_seconds_count{", /./)).to.be.greaterThan(0);
    const expiry = sum("trustgate_webhook_certificate_expiry_timestamp_seconds", /^\S+ /);
    // The suite's certificates live 12 s and are renewed at 2/3 of that.
    expect(expiry * 1000 - Date.now()).to.be.within(-5_000, 15_000);
    expect(text).to.match(/^trustgate_build_info\{version="[^"]+"\} 1$/m);
  });

  it("fails closed when the webhook is down: labelled Pods refused, unlabelled ones and other namespaces unaffected", async () => {
    await webhook.stop();
    await waitUntil("the API server to fail calling the webhook", async () =>
      ((await refusal(() => pod("down", "attested"))) ?? "").includes(
        'failed calling webhook "pods.webhook.trustgate.io"',
      ),
    );
    // Selected out by the objectSelector (no label) or the namespaceSelector: never sent, so admitted.
    expect(await refusal(() => pod("plain-down", undefined))).to.equal(undefined);
    expect(await refusal(() => pod("elsewhere", "nope", UNGATED))).to.equal(undefined);
    // ConfidentialVM writes in gated namespaces have no label filter: refused too.
    expect(await refusal(() => createCvm("dry-down", POLICY, true))).to.include("failed calling webhook");
  });
});
