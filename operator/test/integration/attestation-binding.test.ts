import { expect } from "chai";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { collectEvidence } from "../../../guest/src/evidence.ts";
import { newGuestKey } from "../../../guest/src/guest-key.ts";
import { CvmClient } from "../../../guest/src/kube/cvm-client.ts";
import { createProviders } from "../../../guest/src/providers/select.ts";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { SIMULATED_SNP_MEASUREMENT } from "../../src/attestation/simulated/simulated-snp.ts";
import { waitUntil } from "../support/apply.ts";
import { startAttestationStack, type AttestationStack } from "../support/attestation-stack.ts";
import { guestClientWhenReady } from "../support/cvm-guest.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { readExistingConfidentialVM } from "../support/read.ts";
import { createConfidentialVM } from "../support/confidential-vms.ts";

const NS = "attest-binding";
const NODE = "binding-tdx-1";
const NAME = "tdx-llm";
const MRTD = "9".repeat(96);

/**
 * The host owner as attacker, holding only the guest token (it reads the CVM's cloud-init disk) and a genuine TEE of
 * its own: a TDX ConfidentialVM whose policy pins only TDX measurements is answered with authentic SNP evidence
 * (the simulated SNP TEE, trusted by this controller) bound to the open challenge and the attacker's key.
 */
describe("attestation binding: a TDX CVM is never attested on another TEE's evidence (real API server, guest token only)", function () {
  this.timeout(240_000);
  let admin: KubeConfig;
  let stack: AttestationStack | undefined;
  let asGuest: CvmClient | undefined;

  const read = (): Promise<ConfidentialVM> => readExistingConfidentialVM(admin, NS, NAME);

  before(async function () {
    admin = await kubeConfig();
    const dir = await makeTempDir("trustgate-binding-");
    stack = await startAttestationStack(admin, {
      dir,
      namespace: NS,
      node: NODE,
      fixture: "tdx-8xh100",
      policy: {
        name: "tdx-only",
        spec: {
          tdx: { mrTd: [MRTD] },
          // What the attacker's SNP guest would satisfy, were the TEE type not checked.
          snp: { measurement: [SIMULATED_SNP_MEASUREMENT] },
        },
      },
    });
    await admin.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: "model-key" }, stringData: { key: "do-not-release" } },
    });
    await createConfidentialVM(admin, NS, NAME, {
      tee: "tdx",
      policyRef: "tdx-only",
      gpus: { count: 0 },
      nodeSelector: { "kubernetes.io/hostname": NODE },
      secrets: [{ name: "model-key" }],
    });
    asGuest = (await guestClientWhenReady(admin, NS, NAME, join(dir, "guest"))).client;
  });

  after(async function () {
    asGuest?.close();
    await stack?.stop();
  });

  it("refuses authentic SNP evidence answering the TDX CVM's challenge: TeeMismatch, nothing signed or released", async function () {
    let nonce = "";
    await waitUntil(
      "a challenge",
      async () => (nonce = (await read()).status?.challenge?.nonce ?? "") !== "",
      60_000,
    );
    const providers = await createProviders({
      tee: "simulated",
      gpu: "none",
      tsmRoot: "",
      simPki: stack?.simPki ?? "",
    });
    const bundle = await collectEvidence(nonce, await newGuestKey(), providers, { machine: NODE, gpus: [] });
    expect(bundle.tee.type).to.equal("snp");
    await asGuest?.applyEvidence(bundle);
    let cvm = await read();
    await waitUntil(
      "the appraisal",
      async () => (cvm = await read()).status?.attestation?.nonce === nonce,
      30_000,
    );
    const attested = cvm.status?.conditions?.find((c) => c.type === "Attested");
    expect(attested, JSON.stringify(cvm.status?.attestation?.violations)).to.deep.include({
      status: "False",
      reason: "TeeMismatch",
    });
    expect(attested?.message).to.include("the evidence is snp, the ConfidentialVM asked for tdx");
    expect(cvm.status?.attestation?.verdict).to.equal("contraindicated");
    expect(cvm.status?.attestation?.token).to.equal(undefined);
    expect(cvm.status?.releasedSecrets ?? []).to.deep.equal([]);
    expect(cvm.status?.phase).to.not.equal("Attested");
  });
});
