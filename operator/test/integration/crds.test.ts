import { expect } from "chai";
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { join } from "node:path";
import { apiErrorStatus } from "../../src/kube/api-error.ts";
import { applyCrds, readCrdFile } from "../support/crd-install.ts";
import { kubeConfig } from "../support/control-plane.ts";
import { kubeGet } from "../support/kube-request.ts";
import { EXPECTED_ERROR_ANNOTATION, loadSamples, REPO_ROOT, type SampleObject } from "../support/samples.ts";
import { validateAttestationPolicy } from "../../src/api/v1alpha1/validation.ts";

const GROUP = "trustgate.io";
const VERSION = "v1alpha1";
const KINDS: Record<string, { plural: string; namespaced: boolean }> = {
  ConfidentialHost: { plural: "confidentialhosts", namespaced: false },
  AttestationPolicy: { plural: "attestationpolicies", namespaced: false },
  ConfidentialVM: { plural: "confidentialvms", namespaced: true },
};
const CRD_FILES = [
  "confidentialhosts.trustgate.io.yaml",
  "attestationpolicies.trustgate.io.yaml",
  "confidentialvms.trustgate.io.yaml",
];

function kindInfo(kind: string): { plural: string; namespaced: boolean } {
  const info = KINDS[kind];
  if (info === undefined) throw new Error(`unexpected kind ${kind}`);
  return info;
}

async function createObject(api: CustomObjectsApi, obj: SampleObject, namespace: string): Promise<unknown> {
  const { plural, namespaced } = kindInfo(obj.kind);
  const body = structuredClone(obj);
  if (namespaced) {
    body.metadata.namespace = namespace;
    return api.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural,
      body,
      fieldValidation: "Strict",
    });
  }
  return api.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural,
    body,
    fieldValidation: "Strict",
  });
}

async function rejectionMessage(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    const status = apiErrorStatus(error);
    if (status === undefined) throw error;
    return `${status.code} ${status.message}`;
  }
  throw new Error("the API server accepted the object");
}

describe("trustgate CRDs on a real API server", function () {
  let kc: KubeConfig;
  let objects: CustomObjectsApi;
  const namespace = `crds-${Date.now().toString(36)}`;

  before(async function () {
    kc = await kubeConfig();
    objects = kc.makeApiClient(CustomObjectsApi);
    const crds = (await Promise.all(CRD_FILES.map((f) => readCrdFile(join(REPO_ROOT, "crds", f))))).flat();
    await applyCrds(kc, crds);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  it("installs all three CRDs as Established with names, scope, short names and category", async function () {
    const api = kc.makeApiClient(ApiextensionsV1Api);
    const expected = {
      "confidentialhosts.trustgate.io": { scope: "Cluster", shortName: "chost" },
      "attestationpolicies.trustgate.io": { scope: "Cluster", shortName: "atp" },
      "confidentialvms.trustgate.io": { scope: "Namespaced", shortName: "cvm" },
    };
    for (const [name, want] of Object.entries(expected)) {
      const crd = await api.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.find((c) => c.type === "Established");
      expect(established?.status, name).to.equal("True");
      expect(crd.spec.scope).to.equal(want.scope);
      expect(crd.spec.names.shortNames).to.deep.equal([want.shortName]);
      expect(crd.spec.names.categories).to.deep.equal(["trustgate"]);
      expect(crd.spec.versions.map((v) => v.name)).to.deep.equal([VERSION]);
      expect(crd.spec.versions[0]?.subresources?.status).to.deep.equal({});
    }
  });

  describe("valid samples", function () {
    for (const sample of loadSamples("crds/samples")) {
      it(`accepts ${sample.file} (${sample.object.kind} ${sample.object.metadata.name})`, async function () {
        const created = (await createObject(objects, sample.object, namespace)) as SampleObject;
        expect(created.metadata.name).to.equal(sample.object.metadata.name);
        for (const key of Object.keys(sample.object.spec ?? {})) expect(created.spec).to.have.property(key);
        expect(created.status, "status is not written through the main resource").to.equal(undefined);
      });
    }

    it("applies AttestationPolicy defaults for an empty spec, exactly the defaults trustgate verify --policy applies", async function () {
      const policy = (await objects.getClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: "attestationpolicies",
        name: "defaults",
      })) as { spec: Record<string, Record<string, unknown>> };
      const offline = validateAttestationPolicy({
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "AttestationPolicy",
        metadata: { name: "defaults" },
        spec: {},
      });
      expect(offline.ok && offline.value.spec, "one home for the defaults: the CRD").to.deep.equal(
        policy.spec,
      );
      expect(policy.spec["host"]).to.deep.equal({ requireIommu: true, requireGpuCcMode: "on" });
      expect(policy.spec["tdx"]).to.deep.equal({
        allowDebug: false,
        acceptedTcbStatuses: ["UpToDate"],
        allowedAttributes: ["SEPT_VE_DISABLE", "LASS", "PKS", "KL"],
        requireSecureBoot: false,
        unknownEvents: "allow",
      });
      expect(policy.spec["gpu"]).to.include({
        mode: "local",
        requireRimMatch: true,
        requireRevocationCheck: true,
      });
      expect(policy.spec["freshness"]).to.deep.equal({
        challengeTtl: "5m",
        reattestInterval: "1h",
        resultTtl: "2h",
      });
    });
  });

  describe("invalid samples", function () {
    for (const sample of loadSamples("crds/samples/invalid")) {
      const expected = sample.object.metadata.annotations?.[EXPECTED_ERROR_ANNOTATION];
      it(`rejects ${sample.file} with "${expected ?? "?"}"`, async function () {
        expect(expected, `${sample.file} names its expected error`).to.be.a("string");
        const message = await rejectionMessage(createObject(objects, sample.object, namespace));
        expect(message).to.match(/^(400|422) /);
        expect(message).to.include(expected);
      });
    }
  });

  describe("status subresource", function () {
    const hostSample = loadSamples("crds/samples").find((s) => s.object.kind === "ConfidentialHost");

    it("writes ConfidentialHost status only through /status, and spec writes leave status alone", async function () {
      if (hostSample === undefined) throw new Error("no ConfidentialHost sample");
      const name = hostSample.object.metadata.name;
      const ref = { group: GROUP, version: VERSION, plural: "confidentialhosts", name };
      await objects.patchClusterCustomObjectStatus(
        { ...ref, body: { status: hostSample.object.status } },
        mergePatch,
      );
      await objects.patchClusterCustomObject(
        { ...ref, body: { spec: { nodeName: name }, status: { agentVersion: "forged" } } },
        mergePatch,
      );
      const host = (await objects.getClusterCustomObject(ref)) as SampleObject;
      expect(host.spec).to.deep.equal({ nodeName: name });
      expect(host.status?.["agentVersion"]).to.equal(hostSample.object.status?.["agentVersion"]);
      expect(host.status?.["gpus"]).to.have.length(2);
    });

    it("validates status writes too (a host without a TEE cannot have it enabled)", async function () {
      const name = hostSample?.object.metadata.name ?? "";
      const message = await rejectionMessage(
        objects.patchClusterCustomObjectStatus(
          {
            group: GROUP,
            version: VERSION,
            plural: "confidentialhosts",
            name,
            body: { status: { tee: { type: "none", enabled: true } } },
          },
          mergePatch,
        ),
      );
      expect(message).to.include("a host without a TEE cannot have it enabled");
    });

    it("keeps ConfidentialVM spec immutable fields (spec.tee) and ignores spec in /status writes", async function () {
      const ref = {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: "confidentialvms",
        name: "llm-inference",
      };
      const message = await rejectionMessage(
        objects.patchNamespacedCustomObject({ ...ref, body: { spec: { tee: "snp" } } }, mergePatch),
      );
      expect(message).to.include("spec.tee is immutable");
      await objects.patchNamespacedCustomObjectStatus(
        {
          ...ref,
          body: { spec: { policyRef: "forged" }, status: { phase: "Pending", nodeName: "gpu-node-1" } },
        },
        mergePatch,
      );
      const vm = (await objects.getNamespacedCustomObject(ref)) as SampleObject;
      expect(vm.spec?.["policyRef"]).to.equal("production");
      expect(vm.status).to.deep.equal({ phase: "Pending", nodeName: "gpu-node-1" });
    });
  });

  describe("printer columns (Table requests)", function () {
    const tableHeaders = { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io" };

    async function table(path: string): Promise<{ columns: string[]; rows: unknown[][] }> {
      const res = await kubeGet(kc, path, tableHeaders);
      expect(res.status, res.body).to.equal(200);
      const parsed = JSON.parse(res.body) as {
        columnDefinitions: { name: string }[];
        rows: { cells: unknown[] }[];
      };
      return { columns: parsed.columnDefinitions.map((c) => c.name), rows: parsed.rows.map((r) => r.cells) };
    }

    it("shows hosts' validated state, TEE, GPUs, CC-ready GPUs, BIOS and GPU mode", async function () {
      const { columns, rows } = await table(`/apis/${GROUP}/${VERSION}/confidentialhosts`);
      expect(columns).to.include.members([
        "Name",
        "Validated",
        "TEE",
        "GPUs",
        "CC-Ready",
        "BIOS",
        "GPU-Mode",
        "Age",
      ]);
      const row = rows.find((cells) => cells[0] === "gpu-node-1");
      expect(row?.slice(0, 7)).to.deep.equal(["gpu-node-1", null, "tdx", 2, 2, "2.1", "on"]);
    });

    it("shows ConfidentialVMs' phase, TEE, GPUs, node and attested state", async function () {
      const { columns, rows } = await table(
        `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/confidentialvms`,
      );
      expect(columns).to.include.members(["Name", "Phase", "TEE", "GPUs", "Node", "Attested", "Age"]);
      const row = rows.find((cells) => cells[0] === "llm-inference");
      expect(row?.slice(0, 5)).to.deep.equal(["llm-inference", "Pending", "tdx", 4, "gpu-node-1"]);
    });

    it("shows AttestationPolicies' GPU mode and freshness", async function () {
      const { columns, rows } = await table(`/apis/${GROUP}/${VERSION}/attestationpolicies`);
      expect(columns).to.include.members(["Name", "GPU-Mode", "Challenge-TTL", "Reattest", "Age"]);
      expect(rows.find((cells) => cells[0] === "nras")?.slice(0, 4)).to.deep.equal([
        "nras",
        "remote",
        "90s",
        "30m",
      ]);
    });

    it("lists all three kinds under the trustgate category", async function () {
      const res = await kubeGet(kc, `/apis/${GROUP}/${VERSION}`);
      const resources = (JSON.parse(res.body) as { resources: { name: string; categories?: string[] }[] })
        .resources;
      const inCategory = resources.filter((r) => r.categories?.includes("trustgate")).map((r) => r.name);
      expect(inCategory.sort()).to.deep.equal([
        "attestationpolicies",
        "confidentialhosts",
        "confidentialvms",
      ]);
    });
  });
});
