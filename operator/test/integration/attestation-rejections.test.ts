import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { collectEvidence, type EvidenceProviders } from "../../../guest/src/evidence.ts";
import { newGuestKey } from "../../../guest/src/guest-key.ts";
import { hardwareHints } from "../../../guest/src/hardware.ts";
import { CvmClient } from "../../../guest/src/kube/cvm-client.ts";
import { createProviders } from "../../../guest/src/providers/select.ts";
import type { HardwareHints } from "../../../guest/src/providers/types.ts";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { createSimPki, loadSimPki } from "../../src/attestation/simulated/sim-pki.ts";
import { SimulatedGpus } from "../../src/attestation/simulated/index.ts";
import { SIMULATED_GPU_SYSTEM } from "../../src/attestation/simulated/simulated-gpus.ts";
import type { EvidenceBundle } from "../../src/attestation/types.ts";
import { apiErrorStatus } from "../../src/kube/api-error.ts";
import { loadKubeConfig } from "../../src/kube/kubeconfig.ts";
import { waitUntil } from "../support/apply.ts";
import { startSuiteStack, type AttestationStack } from "../support/attestation-stack.ts";
import { guestClientWhenReady } from "../support/cvm-guest.ts";
import { simulatedGuestArgs, type GuestFiles } from "../support/guest-from-cloud-init.ts";
import { writeTokenKubeconfig } from "../support/identities.ts";
import { challengeRounds } from "../support/challenge-rounds.ts";
import { readExistingConfidentialVM } from "../support/read.ts";
import { createConfidentialVM } from "../support/confidential-vms.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

const NS = "attest-rejections";
const NODE = "reject-snp-1";
const NAME = "probe";
const MAX_EVIDENCE_BYTES = 256 * 1024;
const CVMS = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialvms" };

/**
 * One CVM, many rounds: each round waits for a fresh challenge (asked for by changing the policy) and
 * answers it as the guest would, through its own token and server-side apply, with evidence from the
 * simulated TEE and GPUs that one case alters. Honest rounds are answered by `trustgate guest --once`.
 */
describe("attestation rejections: bad evidence on the real API server never reaches Attested (simulated SNP TEE and GPUs)", function () {
  this.timeout(240_000);
  let admin: KubeConfig;
  let dir: string;
  let stack: AttestationStack | undefined;
  let files: GuestFiles;
  let asGuest: CvmClient | undefined;
  let providers: EvidenceProviders;
  /** The bundle of the first, honest round: replayed later. */
  let firstBundle: EvidenceBundle;

  const read = (): Promise<ConfidentialVM> => readExistingConfidentialVM(admin, NS, NAME);
  const attested = (cvm: ConfidentialVM) => cvm.status?.conditions?.find((c) => c.type === "Attested");

  /** Applies `bundle` as the guest does: its own token, server-side apply, field manager trustgate-guest. */
  async function submit(bundle: EvidenceBundle): Promise<void> {
    if (asGuest === undefined) throw new Error("no guest client");
    await asGuest.applyEvidence(bundle);
  }

  const { nextChallenge, appraised, lastChallenge } = challengeRounds(() => admin, "reject-sim", read);

  /** Evidence the simulated TEE and GPUs give for `nonce` and a fresh key, as the guest collects it. */
  async function evidenceFor(nonce: string, hints?: HardwareHints): Promise<EvidenceBundle> {
    return collectEvidence(nonce, await newGuestKey(), providers, hints ?? hardwareHints(await read()));
  }

  async function expectRefused(nonce: string, reason: string, message: string): Promise<void> {
    const cvm = await appraised(nonce);
    expect(attested(cvm), JSON.stringify(cvm.status?.attestation?.violations)).to.deep.include({
      status: "False",
      reason,
    });
    expect(attested(cvm)?.message).to.include(message);
    expect(cvm.status?.attestation?.verdict).to.equal("contraindicated");
    expect(cvm.status?.attestation?.token).to.equal(undefined);
    expect(cvm.status?.phase).to.equal("Attesting");
  }

  async function honestGuestOnce(): Promise<void> {
    const guest = startTrustgate(
      "guest-once",
      [...simulatedGuestArgs(files, stack?.simPki ?? ""), "--once"],
      dir,
    );
    expect(await guest.exited).to.equal("exit code 0");
  }

  const gpuList = (bundle: EvidenceBundle) => bundle.gpus ?? [];

  before(async function () {
    ({ admin, dir, stack } = await startSuiteStack("trustgate-reject-", {
      namespace: NS,
      node: NODE,
      policy: { name: "reject-sim" },
      controllerArgs: ["--max-evidence-bytes", String(MAX_EVIDENCE_BYTES)],
    }));
    await createConfidentialVM(admin, NS, NAME, {
      tee: "snp",
      policyRef: "reject-sim",
      gpus: { count: 2 },
      nodeSelector: { "kubernetes.io/hostname": NODE },
    });
    ({ files, client: asGuest } = await guestClientWhenReady(admin, NS, NAME, join(dir, "guest")));
    providers = await createProviders({
      tee: "simulated",
      gpu: "simulated",
      tsmRoot: "",
      simPki: stack.simPki,
    });
  });

  after(async function () {
    asGuest?.close();
    await stack?.stop();
  });

  it("attests the honest guest process (the baseline the cases below depart from)", async function () {
    const nonce = await nextChallenge();
    await honestGuestOnce();
    const cvm = await appraised(nonce);
    expect(attested(cvm)?.status, JSON.stringify(cvm.status?.attestation?.violations)).to.equal("True");
    if (cvm.status?.evidence === undefined) throw new Error("no evidence");
    firstBundle = cvm.status.evidence;
    expect(gpuList(firstBundle)).to.have.length(2);
  });

  it("refuses a GPU's SPDM response with one byte flipped: SignatureInvalid", async function () {
    const nonce = await nextChallenge();
    const bundle = await evidenceFor(nonce);
    const gpu = gpuList(bundle)[1];
    if (gpu === undefined) throw new Error("no GPU 1");
    const spdm = Buffer.from(gpu.evidence, "base64");
    spdm[spdm.length - 1] = (spdm[spdm.length - 1] ?? 0) ^ 0x01;
    gpu.evidence = spdm.toString("base64");
    await submit(bundle);
    await expectRefused(nonce, "SignatureInvalid", "GPU 1: SPDM signature does not verify");
  });

  it("refuses the same GPU twice: DuplicateGpu", async function () {
    const nonce = await nextChallenge();
    const bundle = await evidenceFor(nonce);
    const [first] = gpuList(bundle);
    if (first === undefined) throw new Error("no GPU 0");
    bundle.gpus = [first, first];
    await submit(bundle);
    await expectRefused(nonce, "DuplicateGpu", "gpus[1] is the same device");
  });

  it("refuses an unknown GPU, whose device certificate chains to a root nobody pinned: ChainInvalid", async function () {
    const nonce = await nextChallenge();
    const bundle = await evidenceFor(nonce);
    await createSimPki(join(dir, "foreign-pki"));
    const foreign = new SimulatedGpus(await loadSimPki(join(dir, "foreign-pki")));
    const [stranger] = await collectEvidence(
      nonce,
      await newGuestKey(),
      { tee: providers.tee, gpus: foreign },
      {
        machine: "elsewhere",
        gpus: ["elsewhere/0000:99:00.0"],
      },
    ).then((b) => gpuList(b));
    const [own] = gpuList(bundle);
    if (stranger === undefined || own === undefined) throw new Error("no GPUs");
    bundle.gpus = [own, stranger];
    await submit(bundle);
    await expectRefused(nonce, "ChainInvalid", "GPU 1:");
  });

  it("refuses a GPU the CVM was not assigned (3 in the bundle, 2 assigned): PolicyViolation", async function () {
    const nonce = await nextChallenge();
    const hints = hardwareHints(await read());
    const bundle = await evidenceFor(nonce, { ...hints, gpus: [...hints.gpus, `${NODE}/0000:e1:00.0`] });
    await submit(bundle);
    await expectRefused(nonce, "PolicyViolation", "the bundle holds evidence of 3 GPUs, 2 are assigned");
  });

  it("refuses a GPU CC state rewritten by the token holder (devtools on → off): the guest's signature no longer holds", async function () {
    const nonce = await nextChallenge();
    const gpus = providers.gpus;
    if (gpus === undefined) throw new Error("no GPU provider");
    // The GPUs' driver reports devtools mode; the guest signs what it was told.
    const devtools = {
      name: gpus.name,
      collect: gpus.collect.bind(gpus),
      systemState: () =>
        Promise.resolve({
          ...SIMULATED_GPU_SYSTEM,
          devToolsMode: "on" as const,
          environment: "sim" as const,
        }),
    };
    const bundle = await collectEvidence(
      nonce,
      await newGuestKey(),
      { tee: providers.tee, gpus: devtools },
      hardwareHints(await read()),
    );
    expect(bundle.gpuSystem?.devToolsMode).to.equal("on");
    bundle.gpuSystem = { ...SIMULATED_GPU_SYSTEM };
    await submit(bundle);
    await expectRefused(
      nonce,
      "PolicyViolation",
      "gpuSystemSignature was made over another nonce or another GPU state",
    );
  });

  it("refuses a bundle whose GPU CC state the token holder removed: the trustgate guest always sends it", async function () {
    const nonce = await nextChallenge();
    const bundle = await evidenceFor(nonce);
    delete bundle.gpuSystem;
    delete bundle.gpuSystemSignature;
    await submit(bundle);
    await expectRefused(nonce, "PolicyViolation", "but not their CC state (status.evidence.gpuSystem)");
  });

  it("refuses malformed base64: EvidenceMalformed", async function () {
    const nonce = await nextChallenge();
    const bundle = await evidenceFor(nonce);
    bundle.tee.report = `%%${bundle.tee.report ?? ""}`;
    await submit(bundle);
    await expectRefused(nonce, "EvidenceMalformed", "not valid base64");
  });

  it("never appraises evidence for another nonce, nor the first round's bundle replayed: NonceMismatch", async function () {
    const nonce = await nextChallenge();
    const before = (await read()).status?.attestation?.nonce;
    const wrong = "0f".repeat(32);
    await submit(await evidenceFor(wrong));
    await waitUntil("NonceMismatch for the wrong nonce", async () =>
      (attested(await read())?.message ?? "").includes(`answers nonce ${wrong}`),
    );
    await submit(firstBundle);
    await waitUntil("NonceMismatch for the replayed bundle", async () =>
      (attested(await read())?.message ?? "").includes(
        `answers nonce ${firstBundle.nonce}, not the open challenge ${nonce}`,
      ),
    );
    const cvm = await read();
    expect(attested(cvm)).to.deep.include({ status: "False", reason: "NonceMismatch" });
    expect(cvm.status?.challenge?.nonce, "the challenge stays open for a real answer").to.equal(nonce);
    expect(cvm.status?.attestation?.nonce, "nothing was appraised").to.equal(before);
  });

  it("refuses the first round's bundle relabelled with the open nonce: BindingMismatch", async function () {
    const nonce = lastChallenge();
    await submit({ ...firstBundle, nonce });
    await expectRefused(nonce, "BindingMismatch", "REPORT_DATA");
    const violations = (await read()).status?.attestation?.violations ?? [];
    expect(violations.map((v) => v.code)).to.include("NonceMismatch"); // every GPU's SPDM nonce is the old one
  });

  it("refuses a bundle over --max-evidence-bytes, unread: EvidenceTooLarge", async function () {
    const nonce = await nextChallenge();
    const bundle = await evidenceFor(nonce);
    const gpu = gpuList(bundle)[0];
    if (gpu === undefined) throw new Error("no GPU 0");
    gpu.rims = { driver: "x".repeat(MAX_EVIDENCE_BYTES) };
    await submit(bundle);
    await expectRefused(nonce, "EvidenceTooLarge", `more than the limit of ${MAX_EVIDENCE_BYTES}`);
  });

  it("lets the guest's token write status.evidence only: never Attested, attestation, releasedSecrets or a challenge", async function () {
    const kc = loadKubeConfig(
      await writeTokenKubeconfig(
        admin,
        (await readFile(files.token, "utf8")).trim(),
        join(dir, "guest.kubeconfig"),
      ),
    );
    const guest = kc.makeApiClient(CustomObjectsApi);
    await nextChallenge(); // nothing changes the status while this challenge waits for an answer
    const patchStatus = async (
      status: object,
      dryRun?: "All",
    ): Promise<{ code: number; message: string }> => {
      try {
        await guest.patchNamespacedCustomObjectStatus(
          {
            ...CVMS,
            namespace: NS,
            name: NAME,
            body: { status },
            ...(dryRun === undefined ? {} : { dryRun }),
          },
          mergePatch,
        );
        return { code: 200, message: "" };
      } catch (error) {
        const status = apiErrorStatus(error);
        if (status === undefined) throw error;
        return { code: status.code, message: status.message };
      }
    };
    // A policy takes effect once the API server has loaded it; a dry run goes through admission, writing nothing.
    await waitUntil(
      "the guest status policy in force",
      async () => (await patchStatus({ phase: "Failed" }, "All")).code === 403,
    );
    const before = await read();
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const forged = [
      [
        {
          conditions: [
            {
              type: "Attested",
              status: "True",
              reason: "Affirming",
              message: "trust me",
              lastTransitionTime: now,
            },
          ],
        },
        "status.conditions",
      ],
      [
        { attestation: { verdict: "affirming", verifiedAt: now, expiresAt: "2099-01-01T00:00:00Z" } },
        "status.attestation",
      ],
      [{ releasedSecrets: [{ name: "x", jwe: "a.b.c.d.e" }] }, "status.releasedSecrets"],
      [
        { challenge: { nonce: firstBundle.nonce, issuedAt: now, expiresAt: "2099-01-01T00:00:00Z" } },
        "status.challenge",
      ],
      [{ phase: "Attested", evidence: firstBundle }, "status.phase"],
    ] as const;
    for (const [status, field] of forged) {
      const result = await patchStatus(status);
      expect(result.code, field).to.equal(403);
      expect(result.message, field).to.include(
        `may change only status.evidence; the controller owns ${field}`,
      );
    }
    const after = await read();
    expect(after.status?.conditions).to.deep.equal(before.status?.conditions);
    expect(after.status?.attestation).to.deep.equal(before.status?.attestation);
    expect(after.status?.challenge).to.deep.equal(before.status?.challenge);
    expect(after.status?.releasedSecrets).to.deep.equal(before.status?.releasedSecrets);
    // Its own evidence it may still write, by merge patch as well as by server-side apply (the rounds above).
    expect((await patchStatus({ evidence: firstBundle })).code).to.equal(200);
  });

  it("kept the controller running: the honest guest process is attested again", async function () {
    const nonce = lastChallenge();
    expect((await read()).status?.challenge?.nonce, "the challenge is still open").to.equal(nonce);
    await honestGuestOnce();
    const cvm = await appraised(nonce);
    expect(attested(cvm)?.status, JSON.stringify(cvm.status?.attestation?.violations)).to.equal("True");
    expect(cvm.status?.attestation?.token).to.be.a("string");
    const exited = await Promise.race([
      stack?.controller.exited,
      new Promise((r) => setTimeout(r, 10, "running")),
    ]);
    expect(exited).to.equal("running");
  });
});
