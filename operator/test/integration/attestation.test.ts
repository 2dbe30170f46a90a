import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { pino } from "pino";
import type { ManagedProcess } from "../../../hack/lib/managed-process.ts";
import { startKubevirtSimulator, type KubevirtSimulator } from "../../../e2e/kubevirt-simulator/simulator.ts";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { checkAttestationResult } from "../../src/attestation/result/result-token.ts";
import { createSimPki, TRUST_ROOTS_FILE } from "../../src/attestation/simulated/sim-pki.ts";
import { apiErrorStatus } from "../../src/kube/api-error.ts";
import { waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { serviceAccountToken, writeTokenKubeconfig } from "../support/identities.ts";
import { guestFilesFromCloudInit, simulatedGuestArgs } from "../support/guest-from-cloud-init.ts";
import { removeHosts } from "../support/hosts.ts";
import { readConfidentialVM } from "../support/read.ts";
import { installTrustgate, startFixtureAgent } from "../support/install.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

const SYSTEM_NS = "trustgate-system";
const NS = "attest-tests";
const NODE = "attest-snp-1";
const trustgate = { group: "trustgate.io", version: "v1alpha1" };
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

describe("attestation end to end: controller ↔ guest sidecar with a simulated SNP TEE and GPUs (real API server)", function () {
  this.timeout(180_000);
  let admin: KubeConfig;
  let objects: CustomObjectsApi;
  let dir: string;
  let simulator: KubevirtSimulator | undefined;
  const processes: ManagedProcess[] = [];

  const cvm = (name: string): Promise<ConfidentialVM | undefined> => readConfidentialVM(admin, NS, name);

  function attested(c: ConfidentialVM | undefined): { status?: string; reason?: string; message?: string } {
    const condition = c?.status?.conditions?.find((x) => x.type === "Attested");
    return { status: condition?.status, reason: condition?.reason, message: condition?.message };
  }

  /** The guest reads exactly what the controller put into the VM's cloud-init Secret. */
  async function startGuestFromCloudInit(name: string): Promise<{ token: string }> {
    await waitUntil(`${name} cloud-init Secret`, async () => {
      try {
        await admin
          .makeApiClient(CoreV1Api)
          .readNamespacedSecret({ name: `${name}-guest-config`, namespace: NS });
        return true;
      } catch {
        return false;
      }
    });
    const files = await guestFilesFromCloudInit(admin, NS, name, join(dir, `guest-${name}`));
    processes.push(startTrustgate(`guest-${name}`, simulatedGuestArgs(files, join(dir, "sim-pki")), dir));
    const token = await readFile(files.token, "utf8");
    return { token };
  }

  before(async function () {
    admin = await kubeConfig();
    objects = admin.makeApiClient(CustomObjectsApi);
    dir = await makeTempDir("trustgate-attest-");
    const core = admin.makeApiClient(CoreV1Api);
    await installTrustgate(admin, { kubevirt: true, namespaces: [NS] });
    await createSimPki(join(dir, "sim-pki"));
    await objects.createClusterCustomObject({
      ...trustgate,
      plural: "attestationpolicies",
      body: {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "AttestationPolicy",
        metadata: { name: "attest-sim" },
        spec: {
          gpu: { requireRimMatch: false, requireRevocationCheck: false },
          freshness: { challengeTtl: "60s", reattestInterval: "10m", resultTtl: "20m" },
        },
      },
    });
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: "model-key" }, stringData: { key: "s3cret-model-key" } },
    });

    processes.push(
      (await startFixtureAgent(admin, { node: NODE, fixture: "snp-genoa-4xh100" }, dir, "2s")).process,
    );
    const controllerKc = await writeTokenKubeconfig(
      admin,
      await serviceAccountToken(admin, SYSTEM_NS, "trustgate-controller"),
      join(dir, "controller.kubeconfig"),
    );
    processes.push(
      startTrustgate(
        "controller",
        [
          "controller",
          "--kubeconfig",
          controllerKc,
          "--metrics-bind-address",
          "127.0.0.1:0",
          "--test-trust-roots",
          join(dir, "sim-pki", TRUST_ROOTS_FILE),
          "--leader-election-namespace",
          SYSTEM_NS,
        ],
        dir,
      ),
    );
    simulator = await startKubevirtSimulator({ kc: admin, log: pino({ level: "silent" }) });
  });

  after(async function () {
    await simulator?.stop();
    await Promise.all(processes.map((p) => p.stop()));
    await removeHosts(admin, [NODE]);
  });

  it("attests a CVM with 2 GPUs, signs a result clients verify with the JWKS, and releases its secret to the guest only", async function () {
    await objects.createNamespacedCustomObject({
      ...trustgate,
      namespace: NS,
      plural: "confidentialvms",
      body: {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialVM",
        metadata: { name: "secure-llm", namespace: NS },
        spec: {
          tee: "snp",
          policyRef: "attest-sim",
          image: { containerDisk: `registry.example.com/cvm@sha256:${"4f".repeat(32)}` },
          gpus: { count: 2 },
          secrets: [{ name: "model-key" }],
          nodeSelector: { "kubernetes.io/hostname": NODE },
        },
      },
    });
    await waitUntil(
      "secure-llm challenged",
      async () => (await cvm("secure-llm"))?.status?.challenge !== undefined,
      60_000,
    );
    await startGuestFromCloudInit("secure-llm");
    await waitUntil(
      "secure-llm Attested",
      async () => attested(await cvm("secure-llm")).status === "True",
      60_000,
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
    const secretFile = join(dir, "guest-secure-llm", "secrets", "model-key", "key");
    await waitUntil(
      "the guest decrypted the secret",
      async () => (await readFile(secretFile, "utf8").catch(() => "")) === "s3cret-model-key",
      30_000,
    );
  });

  it("gives the guest's token only its own CVM: no other CVM's status, no spec", async function () {
    const guestDir = join(dir, "guest-secure-llm");
    const token = await readFile(join(guestDir, "token"), "utf8");
    const guestKc = await writeTokenKubeconfig(admin, token, join(dir, "guest.kubeconfig"));
    const { loadKubeConfig } = await import("../../src/kube/kubeconfig.ts");
    const asGuest = loadKubeConfig(guestKc).makeApiClient(CustomObjectsApi);
    await objects.createNamespacedCustomObject({
      ...trustgate,
      namespace: NS,
      plural: "confidentialvms",
      body: {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialVM",
        metadata: { name: "other", namespace: NS },
        spec: {
          tee: "snp",
          policyRef: "attest-sim",
          image: { containerDisk: `registry.example.com/cvm@sha256:${"4f".repeat(32)}` },
        },
      },
    });
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
    await waitUntil(
      "secure-llm no longer Attested",
      async () => attested(await cvm("secure-llm")).status === "False",
      60_000,
    );
    const condition = attested(await cvm("secure-llm"));
    expect(condition.reason).to.equal("PolicyViolation");
    expect(condition.message).to.include("spec.snp.measurement");
    expect((await cvm("secure-llm"))?.status?.attestation?.token).to.equal(undefined);
  });
});
