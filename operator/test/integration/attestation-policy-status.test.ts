import { expect } from "chai";
import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { ManagedProcess } from "../../../hack/lib/managed-process.ts";
import type { AttestationPolicy, Condition } from "../../src/api/v1alpha1/generated/types.ts";
import { isNotFound } from "../../src/kube/api-error.ts";
import { waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { writeServiceAccountKubeconfig } from "../support/identities.ts";
import { installTrustgate, SYSTEM_NS } from "../support/install.ts";
import { OFFLINE_COLLATERAL, startTrustgate } from "../support/trustgate-process.ts";
import { aConfidentialVM } from "../support/builders/confidential-vm.ts";

const NS = "policy-status-tests";
const POLICY = "policy-status";
const trustgate = { group: "trustgate.io", version: "v1alpha1" };
const hex96 = "b".repeat(96);

describe("AttestationPolicy status on the real API server (controller under its chart RBAC)", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  let objects: CustomObjectsApi;
  let controller: ManagedProcess | undefined;

  const policy = async (): Promise<AttestationPolicy> =>
    (await objects.getClusterCustomObject({
      ...trustgate,
      plural: "attestationpolicies",
      name: POLICY,
    })) as AttestationPolicy;
  const condition = (p: AttestationPolicy, type: string): Condition | undefined =>
    p.status?.conditions?.find((c) => c.type === type);

  async function createCvm(name: string): Promise<void> {
    // No host carries this label: the CVM stays Scheduling, which is all the count needs.
    const body = aConfidentialVM({
      tee: "snp",
      policyRef: POLICY,
      nodeSelector: { "trustgate.test/none": "x" },
    });
    body.metadata = { name, namespace: NS };
    await objects.createNamespacedCustomObject({
      ...trustgate,
      namespace: NS,
      plural: "confidentialvms",
      body,
    });
  }

  before(async function () {
    admin = await kubeConfig();
    objects = admin.makeApiClient(CustomObjectsApi);
    const dir = await makeTempDir("trustgate-policy-status-");
    await installTrustgate(admin, { kubevirt: true, namespaces: [NS] });
    const body = {
      apiVersion: "trustgate.io/v1alpha1",
      kind: "AttestationPolicy",
      metadata: { name: POLICY },
    };
    await objects.createClusterCustomObject({
      ...trustgate,
      plural: "attestationpolicies",
      body: { ...body, spec: { tdx: { mrTd: [hex96] } } },
    });
    const kc = await writeServiceAccountKubeconfig(admin, SYSTEM_NS, "trustgate-controller", dir);
    controller = startTrustgate(
      "controller",
      ["controller", ...OFFLINE_COLLATERAL, "--kubeconfig", kc, "--metrics-bind-address", "127.0.0.1:0"],
      dir,
    );
  });

  after(async function () {
    await controller?.stop();
    for (const name of ["uses-a", "uses-b"]) {
      await objects
        .deleteNamespacedCustomObject({ ...trustgate, namespace: NS, plural: "confidentialvms", name })
        .catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
    }
    await objects.deleteClusterCustomObject({ ...trustgate, plural: "attestationpolicies", name: POLICY });
  });

  it("is Ready (Valid), says which TEE's launch measurement is not pinned and counts no CVMs yet", async function () {
    await waitUntil("policy status", async () => (await policy()).status?.observedGeneration === 1, 30_000);
    const p = await policy();
    expect([condition(p, "Ready")?.status, condition(p, "Ready")?.reason]).to.deep.equal(["True", "Valid"]);
    const pinned = condition(p, "MeasurementsPinned");
    expect([pinned?.status, pinned?.reason]).to.deep.equal(["False", "NotPinned"]);
    expect(pinned?.message).to.include("snp (no snp.measurement)").and.not.include("tdx (");
    expect(p.status?.confidentialVMs).to.equal(0);
  });

  it("counts the ConfidentialVMs that use it, as they come and go", async function () {
    await createCvm("uses-a");
    await createCvm("uses-b");
    await waitUntil("2 CVMs counted", async () => (await policy()).status?.confidentialVMs === 2, 30_000);
    await objects.deleteNamespacedCustomObject({
      ...trustgate,
      namespace: NS,
      plural: "confidentialvms",
      name: "uses-a",
    });
    await waitUntil("1 CVM counted", async () => (await policy()).status?.confidentialVMs === 1, 30_000);
  });

  it("turns MeasurementsPinned True for the new generation once both TEEs are pinned", async function () {
    await objects.patchClusterCustomObject(
      {
        ...trustgate,
        plural: "attestationpolicies",
        name: POLICY,
        body: {
          spec: { snp: { measurement: [hex96] } },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await waitUntil(
      "generation 2 observed",
      async () => (await policy()).status?.observedGeneration === 2,
      30_000,
    );
    const pinned = condition(await policy(), "MeasurementsPinned");
    expect([pinned?.status, pinned?.reason, pinned?.observedGeneration]).to.deep.equal(["True", "Pinned", 2]);
  });

  it("writes nothing while nothing changes", async function () {
    const before = (await policy()).metadata.resourceVersion;
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect((await policy()).metadata.resourceVersion).to.equal(before);
  });
});
