import { expect } from "chai";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { decodeJwt } from "jose";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import type { AttestationResultClaims } from "../../src/attestation/result/result-token.ts";
import { waitUntil } from "../support/apply.ts";
import { guestFilesWhenReady, startSuiteStack, type AttestationStack } from "../support/attestation-stack.ts";
import { createConfidentialVM } from "../support/confidential-vms.ts";
import { simulatedGuestArgs } from "../support/guest-from-cloud-init.ts";
import { readConfidentialVM } from "../support/read.ts";
import { LAST_FREE, type PickDevices } from "../support/simulated-kubelet.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

const NS = "gpu-alloc";
const NODE = "alloc-snp-1";
/** The snp-genoa-4xh100 fixture's GPUs, in PCI order. */
const HOST_GPUS = ["0000:01:00.0", "0000:41:00.0", "0000:81:00.0", "0000:c1:00.0"];

/** The device plugin gives the last free GPUs (the controller would plan the first ones); "liar" pods get a GPU the host does not have. */
const pick: PickDevices = (free, count, pod) =>
  pod.includes("virt-launcher-liar-")
    ? ["0000:e1:00.0", ...free.slice(0, count - 1)]
    : LAST_FREE(free, count, pod);

describe("the GPUs a VM really got: kubelet PodResources → agent → ConfidentialVM status and signed result (real API server)", function () {
  this.timeout(180_000);
  let admin: KubeConfig;
  let dir: string;
  let stack: AttestationStack | undefined;
  const cvm = (name: string): Promise<ConfidentialVM | undefined> => readConfidentialVM(admin, NS, name);

  before(async function () {
    ({ admin, dir, stack } = await startSuiteStack("tg-gpualloc-", {
      namespace: NS,
      node: NODE,
      policy: { name: "alloc-sim" },
      kubelet: { pick },
    }));
  });
  after(async function () {
    await stack?.stop();
  });

  it("shows and signs the GPUs the device plugin gave, not the ones the controller would have planned", async function () {
    await createConfidentialVM(admin, NS, "llm", {
      tee: "snp",
      policyRef: "alloc-sim",
      gpus: { count: 2 },
      nodeSelector: { "kubernetes.io/hostname": NODE },
    });
    await waitUntil("llm placed", async () => (await cvm("llm"))?.status?.nodeName === NODE, 60_000);
    const placed = (await cvm("llm"))?.status;
    expect(
      placed?.gpus?.every((g) => g.pciAddress === undefined),
      "no PCI addresses before the VM runs",
    ).to.equal(true);

    await waitUntil(
      "llm's allocation observed",
      async () => (await cvm("llm"))?.status?.gpuAllocation?.state === "Observed",
      60_000,
    );
    const pods = await admin
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: NS, labelSelector: "kubevirt.io=virt-launcher" });
    expect(pods.items.map((p) => p.metadata?.name)).to.have.length(1);
    const given = HOST_GPUS.slice(-2);
    const status = (await cvm("llm"))?.status;
    expect(status?.gpus?.map((g) => g.pciAddress)).to.deep.equal(given);
    expect(status?.gpus?.map((g) => g.pciAddress)).not.to.deep.equal(HOST_GPUS.slice(0, 2));
    expect(status?.gpuAllocation?.message).to.include(`pod ${NS}/${pods.items[0]?.metadata?.name ?? ""}`);

    const files = await guestFilesWhenReady(admin, NS, "llm", join(dir, "guest-llm"));
    stack?.processes.push(startTrustgate("guest-llm", simulatedGuestArgs(files, stack.simPki), dir));
    await waitUntil(
      "llm Attested with the observed allocation",
      async () => {
        const c = await cvm("llm");
        const attested = c?.status?.conditions?.find((x) => x.type === "Attested")?.status === "True";
        return attested && c.status?.attestation?.gpuAllocation?.state === "Observed";
      },
      90_000,
    );
    const attestation = (await cvm("llm"))?.status?.attestation;
    expect(attestation?.gpuAllocation?.pciAddresses).to.deep.equal(given);
    expect(attestation?.gpus).to.have.length(2);
    const claims = decodeJwt<AttestationResultClaims>(attestation?.token ?? "");
    expect(claims["trustgate.gpuAllocation"]).to.deep.equal({ state: "Observed", pciAddresses: given });
  });

  it("refuses a host report naming a GPU the host does not have, and never attests on it", async function () {
    await createConfidentialVM(admin, NS, "liar", {
      tee: "snp",
      policyRef: "alloc-sim",
      gpus: { count: 1 },
      nodeSelector: { "kubernetes.io/hostname": NODE },
    });
    await waitUntil(
      "liar's allocation refused",
      async () => (await cvm("liar"))?.status?.gpuAllocation?.state === "Refused",
      60_000,
    );
    const status = (await cvm("liar"))?.status;
    expect(status?.gpuAllocation?.message).to.match(
      /device 0000:e1:00.0 .* maps to no GPU: PCI device 0000:e1:00.0 is not a GPU this host reports/,
    );
    expect(status?.gpus).to.have.length(1);
    expect(status?.gpus?.[0]?.pciAddress, "a refused report is never written to status.gpus").to.equal(
      undefined,
    );
    // The other CVM keeps its GPUs: nothing the host reported for "liar" was recorded.
    expect((await cvm("llm"))?.status?.gpus?.map((g) => g.pciAddress)).to.deep.equal(HOST_GPUS.slice(-2));
  });
});
