import { expect } from "chai";
import type { ManagedProcess } from "../../../hack/lib/managed-process.ts";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  RbacAuthorizationV1Api,
} from "@kubernetes/client-node";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { decodeJwt } from "jose";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { checkAttestationResult } from "../../src/attestation/result/result-token.ts";
import { apiErrorStatus } from "../../src/kube/api-error.ts";
import { loadKubeConfig } from "../../src/kube/kubeconfig.ts";
import { waitUntil } from "../support/apply.ts";
import { guestFilesWhenReady, startSuiteStack, type AttestationStack } from "../support/attestation-stack.ts";
import { writeTokenKubeconfig } from "../support/identities.ts";
import { simulatedGuestArgs } from "../support/guest-from-cloud-init.ts";
import { readConfidentialVM } from "../support/read.ts";
import { startTrustgate } from "../support/trustgate-process.ts";
import { createConfidentialVM } from "../support/confidential-vms.ts";

const SYSTEM_NS = "trustgate-system";
const NS = "attest-tests";
const NODE = "attest-snp-1";
const trustgate = { group: "trustgate.io", version: "v1alpha1" };
/** Not UTF-8 (lone continuation bytes, an invalid lead byte, NUL): must reach the guest byte for byte. */
const BINARY_VALUE = Buffer.from([0x80, 0xff, 0x00, 0xc3, 0x28, 0xfe, 0x0a, 0xe2, 0x82]);

describe("attestation end to end: controller ↔ guest sidecar with a simulated SNP TEE and GPUs (real API server)", function () {
  this.timeout(180_000);
  let admin: KubeConfig;
  let objects: CustomObjectsApi;
  let dir: string;
  let stack: AttestationStack | undefined;

  const cvm = (name: string): Promise<ConfidentialVM | undefined> => readConfidentialVM(admin, NS, name);

  function attested(c: ConfidentialVM | undefined): { status?: string; reason?: string; message?: string } {
    const condition = c?.status?.conditions?.find((x) => x.type === "Attested");
    return { status: condition?.status, reason: condition?.reason, message: condition?.message };
  }

  const guests = new Map<string, ManagedProcess>();

  /** The guest reads exactly what the controller put into the VM's cloud-init Secret. */
  async function startGuestFromCloudInit(name: string): Promise<void> {
    const files = await guestFilesWhenReady(admin, NS, name, join(dir, `guest-${name}`));
    const guest = startTrustgate(`guest-${name}`, simulatedGuestArgs(files, stack?.simPki ?? ""), dir);
    guests.set(name, guest);
    stack?.processes.push(guest);
  }

  before(async function () {
    ({ admin, dir, stack } = await startSuiteStack("trustgate-attest-", {
      namespace: NS,
      node: NODE,
      policy: { name: "attest-sim" },
    }));
    objects = admin.makeApiClient(CustomObjectsApi);
    await admin.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: "model-key" },
        data: {
          key: Buffer.from("s3cret-model-key").toString("base64"),
          "weights.key": BINARY_VALUE.toString("base64"),
        },
      },
    });
  });

  after(async function () {
    await stack?.stop();
  });

  it("attests a CVM with 2 GPUs, signs a result clients verify with the JWKS, and releases its secret to the guest only", async function () {
    await createConfidentialVM(admin, NS, "secure-llm", {
      tee: "snp",
      policyRef: "attest-sim",
      gpus: { count: 2 },
      secrets: [{ name: "model-key" }],
      nodeSelector: { "kubernetes.io/hostname": NODE },
    });
    await waitUntil(
      "secure-llm challenged",
      async () => (await cvm("secure-llm"))?.status?.challenge !== undefined,
      60_000,
    );
    await startGuestFromCloudInit("secure-llm");
    // The handshake sets Attested; the lifecycle derives the phase from it on its next write. Once the host reports
    // which GPUs the device plugin gave the VM, the CVM is challenged once more so that its result names them.
    await waitUntil(
      "secure-llm Attested on its observed GPUs",
      async () => {
        const c = await cvm("secure-llm");
        return (
          attested(c).status === "True" &&
          c?.status?.phase === "Attested" &&
          c.status.gpuAllocation?.state === "Observed" &&
          c.status.attestation?.gpuAllocation?.state === "Observed" &&
          c.status.challenge === undefined
        );
      },
      90_000,
    );

    const status = (await cvm("secure-llm"))?.status;
    expect(status?.phase).to.equal("Attested");
    expect(status?.attestation?.verdict).to.be.oneOf(["affirming", "warning"]);
    expect(status?.attestation?.gpus).to.have.length(2);
    expect(status?.challenge, "a challenge is used once").to.equal(undefined);

    const jwksMap = await admin
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: "trustgate-jwks", namespace: SYSTEM_NS });
    const jwks = JSON.parse(jwksMap.data?.["jwks.json"] ?? "{}") as { keys: [] };
    const token = await checkAttestationResult(status?.attestation?.token ?? "", jwks, { now: new Date() });
    if (status?.attestation?.verdict === "affirming") expect(token.ok, JSON.stringify(token)).to.equal(true);
    expect(token.claims?.sub).to.equal(`${NS}/secure-llm`);

    expect(status?.releasedSecrets?.map((s) => s.name)).to.deep.equal(["model-key"]);
    const secretDir = join(dir, "guest-secure-llm", "secrets", "model-key");
    // The guest writes a secret's keys one by one: wait for both.
    await waitUntil(
      "the guest decrypted the secret",
      async () =>
        (await readFile(join(secretDir, "key"), "utf8").catch(() => "")) === "s3cret-model-key" &&
        (await readFile(join(secretDir, "weights.key")).catch(() => undefined)) !== undefined,
      30_000,
    );
    const utf8RoundTrip = Buffer.from(BINARY_VALUE.toString("utf8"));
    expect(utf8RoundTrip.equals(BINARY_VALUE), "the value would not survive UTF-8 decoding").to.equal(false);
    expect((await readFile(join(secretDir, "weights.key"))).equals(BINARY_VALUE), "byte-exact").to.equal(
      true,
    );

    // One handshake in both logs: the guest's answer and the controller's appraisal carry the nonce's 8-digit prefix.
    const jsonLines = async (path: string): Promise<Record<string, unknown>[]> =>
      (await readFile(path, "utf8"))
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const nonce = status?.attestation?.nonce ?? "";
    const answered = (await jsonLines(guests.get("secure-llm")?.logPath ?? "")).filter(
      (l) => l["msg"] === "Answered the challenge",
    );
    expect(answered.map((l) => l["nonce"])).to.include(nonce.slice(0, 8));
    const appraised = (await jsonLines(stack?.controller.logPath ?? "")).filter(
      (l) => l["msg"] === "Appraised attestation evidence" && l["key"] === `${NS}/secure-llm`,
    );
    expect(appraised.map((l) => l["nonce"])).to.include(nonce.slice(0, 8));
    expect(appraised[0]?.["level"]).to.equal("info");
  });

  it("gives the guest's token only its own CVM: no other CVM's status, no spec", async function () {
    const guestDir = join(dir, "guest-secure-llm");
    const token = await readFile(join(guestDir, "token"), "utf8");
    const guestKc = await writeTokenKubeconfig(admin, token, join(dir, "guest.kubeconfig"));
    const asGuest = loadKubeConfig(guestKc).makeApiClient(CustomObjectsApi);
    await createConfidentialVM(admin, NS, "other", { tee: "snp", policyRef: "attest-sim" });
    const other = await asGuest
      .patchNamespacedCustomObjectStatus(
        {
          ...trustgate,
          namespace: NS,
          plural: "confidentialvms",
          name: "other",
          body: { status: { phase: "Attested" } },
        },
        mergePatch,
      )
      .then(() => 200)
      .catch((error: unknown) => apiErrorStatus(error)?.code);
    expect(other).to.equal(403);
    const spec = await asGuest
      .patchNamespacedCustomObject(
        {
          ...trustgate,
          namespace: NS,
          plural: "confidentialvms",
          name: "secure-llm",
          body: { spec: { policyRef: "defaults" } },
        },
        mergePatch,
      )
      .then(() => 200)
      .catch((error: unknown) => apiErrorStatus(error)?.code);
    expect(spec).to.equal(403);
  });

  it("gives the guest a token for the API server's audience, bound to a Secret the CVM owns, expiring in 24 h", async function () {
    const token = await readFile(join(dir, "guest-secure-llm", "token"), "utf8");
    const claims = decodeJwt(token);
    const issuer = admin.getCurrentCluster()?.server;
    expect(claims.aud, "the API server's default audience, which it accepts").to.deep.equal([issuer]);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).to.equal(24 * 3600);
    const bound = (claims["kubernetes.io"] as { secret?: { name?: string } } | undefined)?.secret?.name;
    expect(bound).to.equal("secure-llm-guest-binding");
    // Why not audience "trustgate": an API server that does not list it among --api-audiences (most do not,
    // and managed ones cannot) refuses such a token outright.
    const trustgateAudience = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      name: "secure-llm-guest",
      namespace: NS,
      body: { spec: { audiences: ["trustgate"], expirationSeconds: 600 } },
    });
    const refused = await writeTokenKubeconfig(
      admin,
      trustgateAudience.status?.token ?? "",
      join(dir, "audience.kubeconfig"),
    );
    const code = await loadKubeConfig(refused)
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({
        ...trustgate,
        namespace: NS,
        plural: "confidentialvms",
        name: "secure-llm",
      })
      .then(() => 200)
      .catch((error: unknown) => apiErrorStatus(error)?.code);
    expect(code).to.equal(401);
  });

  it("refuses a TokenRequest made with the guest token: a host reading cloud-init cannot mint longer-lived tokens", async function () {
    const token = await readFile(join(dir, "guest-secure-llm", "token"), "utf8");
    const asGuest = loadKubeConfig(
      await writeTokenKubeconfig(admin, token, join(dir, "guest-token.kubeconfig")),
    );
    const minted = await asGuest
      .makeApiClient(CoreV1Api)
      .createNamespacedServiceAccountToken({
        name: "secure-llm-guest",
        namespace: NS,
        body: { spec: { audiences: ["https://attacker.example"], expirationSeconds: 365 * 24 * 3600 } },
      })
      .then(() => 201)
      .catch((error: unknown) => apiErrorStatus(error)?.code);
    expect(minted).to.equal(403);
    const role = await admin
      .makeApiClient(RbacAuthorizationV1Api)
      .readNamespacedRole({ name: "secure-llm-guest", namespace: NS });
    expect(role.rules?.flatMap((rule) => rule.resources ?? [])).to.not.include("serviceaccounts/token");
  });

  it("drops Attested when the VM instance changes (InstanceChanged) and attests the new instance on a new challenge", async function () {
    const before = await cvm("secure-llm");
    const oldInstance = before?.status?.vmInstanceUid ?? "";
    expect(oldInstance).to.not.equal("");
    expect(before?.status?.attestation).to.deep.include({ vmInstanceUid: oldInstance });
    // The guest is gone with its instance; the host restarts the VM (a new VMI of the same VM).
    await guests.get("secure-llm")?.stop();
    await objects.deleteNamespacedCustomObject({
      group: "kubevirt.io",
      version: "v1",
      namespace: NS,
      plural: "virtualmachineinstances",
      name: "secure-llm",
    });
    await waitUntil(
      "Attested False for the new instance",
      async () => {
        const c = await cvm("secure-llm");
        return (
          c?.status?.vmInstanceUid !== undefined &&
          c.status.vmInstanceUid !== oldInstance &&
          attested(c).status === "False"
        );
      },
      60_000,
    );
    const restarted = await cvm("secure-llm");
    expect(attested(restarted).reason).to.equal("InstanceChanged");
    expect(restarted?.status?.phase).to.equal("Attesting");
    expect(restarted?.status?.challenge?.nonce)
      .to.be.a("string")
      .and.not.equal(before?.status?.attestation?.nonce);
    await startGuestFromCloudInit("secure-llm");
    await waitUntil(
      "the new instance attested",
      async () => attested(await cvm("secure-llm")).status === "True",
      60_000,
    );
    const after = await cvm("secure-llm");
    expect(after?.status?.attestation?.vmInstanceUid).to.equal(after?.status?.vmInstanceUid);
  });

  it("drops Attested at once when spec.policyRef names another policy, even one of the same generation", async function () {
    await objects.createClusterCustomObject({
      ...trustgate,
      plural: "attestationpolicies",
      body: {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "AttestationPolicy",
        metadata: { name: "attest-sim-strict" },
        spec: { snp: { measurement: ["00".repeat(48)] } },
      },
    });
    const setPolicyRef = (policyRef: string) =>
      objects.patchNamespacedCustomObject(
        {
          ...trustgate,
          namespace: NS,
          plural: "confidentialvms",
          name: "secure-llm",
          body: { spec: { policyRef } },
        },
        mergePatch,
      );
    const before = await cvm("secure-llm");
    expect(attested(before).status).to.equal("True");
    expect(before?.status?.attestation).to.deep.include({ policyName: "attest-sim", policyGeneration: 1 });
    await setPolicyRef("attest-sim-strict");
    await waitUntil(
      "secure-llm no longer Attested",
      async () => attested(await cvm("secure-llm")).status === "False",
      60_000,
    );
    expect(["PolicyChanged", "PolicyViolation"]).to.include(attested(await cvm("secure-llm")).reason);
    await waitUntil(
      "secure-llm appraised against the strict policy",
      async () => attested(await cvm("secure-llm")).reason === "PolicyViolation",
      60_000,
    );
    const after = await cvm("secure-llm");
    expect(after?.status?.attestation).to.deep.include({
      policyName: "attest-sim-strict",
      verdict: "contraindicated",
    });
    expect(after?.status?.attestation?.token).to.equal(undefined);
    await setPolicyRef("attest-sim");
    await waitUntil(
      "secure-llm attested again under its first policy",
      async () => attested(await cvm("secure-llm")).status === "True",
      60_000,
    );
  });

  it("drops Attested when the policy is tightened and the new evidence no longer satisfies it", async function () {
    await objects.patchClusterCustomObject(
      {
        ...trustgate,
        plural: "attestationpolicies",
        name: "attest-sim",
        body: { spec: { snp: { measurement: ["00".repeat(48)] } } },
      },
      mergePatch,
    );
    // At once PolicyChanged (the result was appraised against the old generation), then, once the fresh evidence
    // is appraised against the tightened policy, PolicyViolation.
    await waitUntil(
      "secure-llm no longer Attested",
      async () => attested(await cvm("secure-llm")).status === "False",
      60_000,
    );
    await waitUntil(
      "secure-llm appraised against the tightened policy",
      async () => attested(await cvm("secure-llm")).reason === "PolicyViolation",
      60_000,
    );
    const condition = attested(await cvm("secure-llm"));
    expect(condition.reason).to.equal("PolicyViolation");
    expect(condition.message).to.include("spec.snp.measurement");
    expect((await cvm("secure-llm"))?.status?.attestation?.token).to.equal(undefined);
  });

  it("exports what happened as metrics: one result affirmed, one refused, the secret released, the host validated", async function () {
    const response = await fetch(`http://127.0.0.1:${String(stack?.metricsPort)}/metrics`);
    const text = await response.text();
    const value = (series: string): number => {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
    };
    const affirmed =
      value('trustgate_attestations_total{tee="snp",verdict="affirming",reason="Affirming"}') +
      value('trustgate_attestations_total{tee="snp",verdict="warning",reason="AffirmingWithWarnings"}');
    expect(affirmed, text).to.be.greaterThanOrEqual(1);
    expect(
      value('trustgate_attestations_total{tee="snp",verdict="contraindicated",reason="PolicyViolation"}'),
    ).to.be.greaterThanOrEqual(1);
    for (const stage of ["challenge", "evidence", "verify", "write"])
      expect(
        value(`trustgate_attestation_duration_seconds_count{tee="snp",stage="${stage}"}`),
        stage,
      ).to.be.greaterThan(0);
    expect(value("trustgate_secrets_released_total")).to.be.greaterThanOrEqual(1);
    // 1 when this controller made the operator's first signing key, 0 when an earlier suite on this API server did.
    expect(value("trustgate_signing_key_rotations_total"), "the first key").to.be.within(0, 1);
    expect(
      value('trustgate_confidentialhosts{validated="true",reason="HostValid"}'),
    ).to.be.greaterThanOrEqual(1);
    expect(value(`trustgate_host_report_age_seconds{node="${NODE}"}`)).to.be.within(0, 120);
    expect(value('trustgate_workqueue_adds_total{controller="confidentialvm"}')).to.be.greaterThan(0);
    expect(text).to.match(/^trustgate_build_info\{version="[^"]+"\} 1$/m);
    // The refused result has no expiry; the series follows status.attestation.expiresAt while one is set.
    const expiresAt = (await cvm("secure-llm"))?.status?.attestation?.expiresAt;
    const expiry = value(
      `trustgate_attestation_expiry_timestamp_seconds{namespace="${NS}",name="secure-llm"}`,
    );
    if (expiresAt === undefined) expect(expiry).to.be.NaN;
    else expect(expiry).to.equal(Date.parse(expiresAt) / 1000);
  });
});
