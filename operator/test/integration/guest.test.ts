import { execFile } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  RbacAuthorizationV1Api,
} from "@kubernetes/client-node";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { expect } from "chai";
import type { ManagedProcess } from "../../../hack/lib/managed-process.ts";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { keyThumbprint } from "../../src/attestation/binding.ts";
import { signAttestationResult } from "../../src/attestation/result/result-token.ts";
import { sealSecretForGuest } from "../../src/attestation/result/secret-release.ts";
import {
  generateSigningKey,
  publicJwks,
  type StoredSigningKey,
} from "../../src/attestation/result/signing-keys.ts";
import { simulatedBackends } from "../../src/attestation/simulated/backends.ts";
import { createSimPki, TRUST_ROOTS_FILE } from "../../src/attestation/simulated/sim-pki.ts";
import { appraise } from "../../src/attestation/appraise.ts";
import { compilePolicySpec } from "../../src/attestation/policy/compiled-policy.ts";
import { apiErrorStatus } from "../../src/kube/api-error.ts";
import { applyCrds, readCrdFile } from "../support/crd-install.ts";
import { waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { asUser, serviceAccountToken } from "../support/identities.ts";
import { REPO_ROOT } from "../support/samples.ts";
import { startTrustgate } from "../support/trustgate-process.ts";
import { aConfidentialVM } from "../support/builders/confidential-vm.ts";
import { SIMULATED_SNP_MEASUREMENT } from "../../src/attestation/simulated/simulated-snp.ts";

const NS = "guest-it";
const CVM = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialvms" };
const GUEST_SA = "trustgate-guest-llm";
const nonceOf = (n: number): string => n.toString(16).padStart(2, "0").repeat(32);

function confidentialVm(name: string): object {
  return aConfidentialVM({ tee: "snp", gpus: { count: 2 } }, name, { metadata: { namespace: NS } });
}

async function denied(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    const status = apiErrorStatus(error);
    if (status === undefined) throw error;
    return status.code;
  }
  return 200;
}

/** `trustgate guest --once` from source as a real process. */
function guestOnce(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, "operator/src/cmd/main.ts"), "guest", "--once", ...args],
      { timeout: 60_000 },
      (error, _stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stderr });
      },
    );
  });
}

describe("trustgate guest on the real API server (simulated SNP TEE and H100 GPUs, per-CVM RBAC)", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  let objects: CustomObjectsApi;
  let dir: string;
  let guestArgs: string[];
  /** The operator's result key: its JWKS is what the measured image pins (--operator-jwks). */
  let operator: StoredSigningKey;
  let trustRoots: string;
  const processes: ManagedProcess[] = [];

  async function read(name = "llm"): Promise<ConfidentialVM> {
    return (await objects.getNamespacedCustomObject({ ...CVM, namespace: NS, name })) as ConfidentialVM;
  }

  async function patchStatus(status: object, name = "llm"): Promise<void> {
    await objects.patchNamespacedCustomObjectStatus(
      { ...CVM, namespace: NS, name, body: { status } },
      mergePatch,
    );
  }

  function challenge(nonce: string): object {
    const now = Date.now();
    return {
      challenge: {
        nonce,
        issuedAt: new Date(now).toISOString(),
        expiresAt: new Date(now + 5 * 60_000).toISOString(),
      },
    };
  }

  async function verify(cvm: ConfidentialVM, nonce: string) {
    return appraise(
      cvm.status?.evidence,
      compilePolicySpec({
        snp: { measurement: [SIMULATED_SNP_MEASUREMENT] },
        gpu: { requireRevocationCheck: false },
      }),
      {
        now: new Date(),
        nonce: nonce,
        backends: await simulatedBackends(trustRoots),
      },
    );
  }

  before(async function () {
    admin = await kubeConfig();
    objects = admin.makeApiClient(CustomObjectsApi);
    dir = await makeTempDir("trustgate-guest-it-");
    const core = admin.makeApiClient(CoreV1Api);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await applyCrds(admin, await readCrdFile(join(REPO_ROOT, "crds/confidentialvms.trustgate.io.yaml")));
    await core.createNamespace({ body: { metadata: { name: NS } } }).catch(() => undefined);
    for (const name of ["llm", "other"])
      await objects.createNamespacedCustomObject({ ...CVM, namespace: NS, body: confidentialVm(name) });
    await patchStatus({
      nodeName: "gpu-node-1",
      gpus: [{ pciAddress: "0000:41:00.0" }, { pciAddress: "0000:42:00.0" }],
    });

    // The per-CVM identity of docs/attestation-handshake.md#guest-identity: get/watch on its CVM, patch on its status, nothing else.
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: GUEST_SA } } });
    await rbac.createNamespacedRole({
      namespace: NS,
      body: {
        metadata: { name: GUEST_SA },
        rules: [
          {
            apiGroups: ["trustgate.io"],
            resources: ["confidentialvms"],
            resourceNames: ["llm"],
            verbs: ["get", "watch"],
          },
          {
            apiGroups: ["trustgate.io"],
            resources: ["confidentialvms/status"],
            resourceNames: ["llm"],
            verbs: ["patch"],
          },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: NS,
      body: {
        metadata: { name: GUEST_SA },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: GUEST_SA },
        subjects: [{ kind: "ServiceAccount", name: GUEST_SA, namespace: NS }],
      },
    });
    const token = await serviceAccountToken(admin, NS, GUEST_SA);
    await writeFile(join(dir, "token"), token, { mode: 0o600 });
    const cluster = admin.getCurrentCluster();
    await writeFile(
      join(dir, "guest.json"),
      JSON.stringify({
        apiServer: cluster?.server,
        caData: cluster?.caData,
        namespace: NS,
        name: "llm",
        tokenFile: join(dir, "token"),
      }),
    );
    await createSimPki(join(dir, "sim-pki"));
    trustRoots = join(dir, "sim-pki", TRUST_ROOTS_FILE);
    operator = await generateSigningKey(new Date());
    await writeFile(join(dir, "operator-jwks.json"), JSON.stringify(publicJwks([operator])));
    guestArgs = [
      ...["--config", join(dir, "guest.json"), "--secrets-dir", join(dir, "secrets")],
      ...["--operator-jwks", join(dir, "operator-jwks.json")],
      ...["--tee-provider", "simulated", "--gpu-provider", "simulated", "--sim-pki", join(dir, "sim-pki")],
    ];
  });

  after(async function () {
    await Promise.all(processes.map((p) => p.stop()));
  });

  it("answers the current challenge once (--once): status.evidence for the nonce, applied by trustgate-guest, verifying", async function () {
    const nonce = nonceOf(1);
    await patchStatus(challenge(nonce));
    const result = await guestOnce(guestArgs);
    expect(result.code, result.stderr).to.equal(0);
    const cvm = await read();
    expect(cvm.status?.evidence?.nonce).to.equal(nonce);
    expect(cvm.status?.evidence?.tee.type).to.equal("snp");
    expect(cvm.status?.evidence?.gpus).to.have.length(2);
    const managers = (cvm.metadata.managedFields ?? []).filter((m) => m.manager === "trustgate-guest");
    expect(managers.map((m) => [m.operation, m.subresource])).to.deep.equal([["Apply", "status"]]);
    expect(JSON.stringify(managers[0]?.fieldsV1)).to.include("f:evidence");

    const report = await verify(cvm, nonce);
    expect(report.tee.errors).to.deep.equal([]);
    expect(report.tee).to.include({ authentic: true, binding: "match" });
    expect(report.gpus.map((g) => [g.authentic, g.errors.length])).to.deep.equal([
      [true, 0],
      [true, 0],
    ]);
    expect(new Set(report.gpus.map((g) => (g as { ueid?: string }).ueid)).size).to.equal(2);
    expect((await verify(cvm, nonceOf(9))).tee.errors.map((e) => e.code)).to.include("NonceMismatch");
  });

  it("exits 1 without writing when the challenge has expired", async function () {
    const before = await read();
    const past = new Date(Date.now() - 60_000).toISOString();
    await patchStatus({ challenge: { nonce: nonceOf(2), issuedAt: past, expiresAt: past } });
    const result = await guestOnce(guestArgs);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include('"reason":"Expired"');
    expect((await read()).status?.evidence?.nonce).to.equal(before.status?.evidence?.nonce);
  });

  it("the guest's token may read its CVM and patch its status, and nothing else (403)", async function () {
    const token = (await readFile(join(dir, "token"), "utf8")).trim();
    const guest = asUser(admin, token).makeApiClient(CustomObjectsApi);
    expect(
      (await guest.getNamespacedCustomObject({ ...CVM, namespace: NS, name: "llm" })) as object,
    ).to.have.property("spec");
    const patch = { status: { message: "guest was here" } };
    expect(
      await denied(
        guest.patchNamespacedCustomObjectStatus(
          { ...CVM, namespace: NS, name: "other", body: patch },
          mergePatch,
        ),
      ),
    ).to.equal(403);
    expect(
      await denied(
        guest.patchNamespacedCustomObject(
          { ...CVM, namespace: NS, name: "llm", body: { spec: { gpus: { count: 8 } } } },
          mergePatch,
        ),
      ),
    ).to.equal(403);
    expect(await denied(guest.getNamespacedCustomObject({ ...CVM, namespace: NS, name: "other" }))).to.equal(
      403,
    );
    expect(await denied(guest.listNamespacedCustomObject({ ...CVM, namespace: NS }))).to.equal(403);
    expect(await denied(guest.deleteNamespacedCustomObject({ ...CVM, namespace: NS, name: "llm" }))).to.equal(
      403,
    );
    expect((await read("other")).status?.message).to.equal(undefined);
  });

  it("as a service: answers new nonces through its watch, writes secrets released to its key, stops on SIGTERM", async function () {
    const guest = startTrustgate("guest-llm", ["guest", ...guestArgs, "--log-level", "debug"], dir);
    processes.push(guest);
    const nonce = nonceOf(3);
    await patchStatus(challenge(nonce));
    await waitUntil(
      "the guest to answer nonce 3",
      async () => (await read()).status?.evidence?.nonce === nonce,
      30_000,
    );
    const answered = await read();
    expect((await verify(answered, nonce)).tee).to.include({ authentic: true, binding: "match" });

    const publicKey = answered.status?.evidence?.publicKey;
    if (publicKey === undefined) throw new Error("no public key");
    const kid = Buffer.from(await keyThumbprint(publicKey)).toString("base64url");
    const now = new Date();
    const jwe = await sealSecretForGuest(
      { token: Buffer.from("hf_secret"), "config.json": Buffer.from('{"a":1}') },
      publicKey,
      kid,
      {
        issuer: "trustgate",
        subject: `${NS}/llm`,
        secretName: "model-credentials",
        nonce,
        signingKey: operator,
        now,
      },
    );
    // As the controller writes it: the signed result for the guest's key, then the secret sealed and signed.
    const token = await signAttestationResult(
      {
        issuer: "trustgate",
        subject: `${NS}/llm`,
        nonce,
        guestKeyThumbprint: kid,
        verdict: "affirming",
        submods: {},
        issuedAt: now,
        expiresAt: new Date(now.getTime() + 3_600_000),
      },
      operator,
    );
    await patchStatus({ attestation: { token }, releasedSecrets: [{ name: "model-credentials", jwe }] });
    const tokenFile = join(dir, "secrets", "model-credentials", "token");
    await waitUntil("the released secret to be written", () =>
      stat(tokenFile).then(
        () => true,
        () => false,
      ),
    );
    expect(await readFile(tokenFile, "utf8")).to.equal("hf_secret");
    expect((await stat(tokenFile)).mode & 0o777).to.equal(0o400);
    expect(await readFile(join(dir, "secrets", "model-credentials", "config.json"), "utf8")).to.equal(
      '{"a":1}',
    );

    const next = nonceOf(4);
    await patchStatus(challenge(next));
    await waitUntil(
      "the guest to answer nonce 4",
      async () => (await read()).status?.evidence?.nonce === next,
      30_000,
    );
    expect((await read()).status?.evidence?.publicKey).not.to.deep.equal(publicKey);

    await guest.stop(10_000);
    expect(await guest.exited).to.equal("exit code 0");
    const log = await readFile(join(dir, "guest-llm.log"), "utf8");
    expect(log).not.to.include("hf_secret");
    expect(log).to.include("Self-check of the submitted evidence");
    expect(log, "the watch works under the resourceNames-restricted Role").not.to.include(
      "Cannot read or watch",
    );
  });
});
