import { expect } from "chai";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { join } from "node:path";
import { apiErrorStatus } from "../../src/kube/api-error.ts";
import { applyCrds, readCrdFile } from "../support/crd-install.ts";
import { kubeConfig } from "../support/control-plane.ts";
import { applyManifestFile, waitUntil } from "../support/apply.ts";
import { asUser, podBoundToken } from "../support/identities.ts";
import { REPO_ROOT } from "../support/samples.ts";

const NS = "trustgate-system";
const host = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialhosts" };

async function denial(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    const status = apiErrorStatus(error);
    if (status === undefined) throw error;
    return status;
  }
  throw new Error("the request was allowed");
}

function chost(name: string): object {
  return { apiVersion: "trustgate.io/v1alpha1", kind: "ConfidentialHost", metadata: { name }, spec: {} };
}

describe("agent writes are restricted to the agent's own node (RBAC + ValidatingAdmissionPolicy)", function () {
  let admin: KubeConfig;
  let agentA: CustomObjectsApi;
  let agentACore: CoreV1Api;
  const nodeA = "agent-node-a";
  const nodeB = "agent-node-b";

  before(async function () {
    admin = await kubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    await applyCrds(admin, await readCrdFile(join(REPO_ROOT, "crds/confidentialhosts.trustgate.io.yaml")));
    await core.createNamespace({ body: { metadata: { name: NS } } }).catch(() => undefined);
    await applyManifestFile(admin, "charts/trustgate/files/rbac/agent.yaml");
    await applyManifestFile(admin, "charts/trustgate/files/admission/agent-node-restriction.yaml");
    for (const name of [nodeA, nodeB]) await core.createNode({ body: { metadata: { name } } });
    const agentKc = asUser(admin, await podBoundToken(admin, NS, "trustgate-agent", nodeA));
    agentA = agentKc.makeApiClient(CustomObjectsApi);
    agentACore = agentKc.makeApiClient(CoreV1Api);
    // The policy is enforced a moment after it is created: probe with dry runs until it denies.
    await waitUntil("the ValidatingAdmissionPolicy to be enforced", async () => {
      const status = await denial(
        agentA.createClusterCustomObject({ ...host, body: chost(nodeB), dryRun: "All" }),
      ).catch(() => undefined);
      return status?.code === 403;
    });
  });

  it("lets the agent create its own node's ConfidentialHost and patch its status", async function () {
    await agentA.createClusterCustomObject({ ...host, body: chost(nodeA) });
    const patched = (await agentA.patchClusterCustomObjectStatus(
      {
        ...host,
        name: nodeA,
        body: { status: { agentVersion: "0.1.0", tee: { type: "tdx", enabled: true } } },
      },
      mergePatch,
    )) as { status: { agentVersion: string } };
    expect(patched.status.agentVersion).to.equal("0.1.0");
  });

  it("denies creating another node's ConfidentialHost, naming both nodes", async function () {
    const status = await denial(agentA.createClusterCustomObject({ ...host, body: chost(nodeB) }));
    expect(status.code).to.equal(403);
    expect(status.message).to.include(
      `the trustgate agent on node ${nodeA} may only write ConfidentialHost ${nodeA}, not ${nodeB}`,
    );
  });

  it("denies patching another node's ConfidentialHost status", async function () {
    await admin.makeApiClient(CustomObjectsApi).createClusterCustomObject({ ...host, body: chost(nodeB) });
    const status = await denial(
      agentA.patchClusterCustomObjectStatus(
        { ...host, name: nodeB, body: { status: { agentVersion: "forged" } } },
        mergePatch,
      ),
    );
    expect(status.code).to.equal(403);
    expect(status.message).to.include(`may only write ConfidentialHost ${nodeA}, not ${nodeB}`);
  });

  it("denies the agent setting conditions, which belong to the host controller", async function () {
    const status = await denial(
      agentA.patchClusterCustomObjectStatus(
        {
          ...host,
          name: nodeA,
          body: {
            status: {
              conditions: [
                {
                  type: "Validated",
                  status: "True",
                  reason: "Forged",
                  message: "",
                  lastTransitionTime: "2026-11-25T10:00:00Z",
                },
              ],
            },
          },
        },
        mergePatch,
      ),
    );
    expect(status.code).to.equal(403);
    expect(status.message).to.include("may not set ConfidentialHost conditions");
  });

  it("denies what RBAC does not grant: Node patches, deletes, spec and annotation patches", async function () {
    const nodePatch = await denial(
      agentACore.patchNode(
        { name: nodeA, body: { metadata: { labels: { "trustgate.io/validated": "true" } } } },
        mergePatch,
      ),
    );
    expect(nodePatch.code).to.equal(403);
    const remove = await denial(agentA.deleteClusterCustomObject({ ...host, name: nodeA }));
    expect(remove.code).to.equal(403);
    const annotate = await denial(
      agentA.patchClusterCustomObject(
        {
          ...host,
          name: nodeA,
          body: { metadata: { annotations: { "trustgate.io/acknowledged-key-id": "k" } } },
        },
        mergePatch,
      ),
    );
    expect(annotate.code).to.equal(403);
  });

  it("denies a token that is not bound to a pod on a node", async function () {
    const core = admin.makeApiClient(CoreV1Api);
    const unbound = await core.createNamespacedServiceAccountToken({
      name: "trustgate-agent",
      namespace: NS,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const agent = asUser(admin, unbound.status?.token ?? "").makeApiClient(CustomObjectsApi);
    const status = await denial(
      agent.createClusterCustomObject({ ...host, body: chost("agent-node-c"), dryRun: "All" }),
    );
    expect(status.code).to.equal(403);
    expect(status.message).to.include("pod-bound ServiceAccount token that names their node");
  });
});
