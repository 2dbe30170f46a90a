import { expect } from "chai";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { SIMULATED_SNP_MEASUREMENT } from "../operator/src/attestation/simulated/simulated-snp.ts";
import { SIMULATED_TDX_MRTD } from "../operator/src/attestation/simulated/simulated-tdx.ts";
import { waitUntil } from "../operator/test/support/apply.ts";
import { kubeConfig, makeTempDir } from "../operator/test/support/control-plane.ts";
import { readConfidentialHost } from "../operator/test/support/read.ts";
import { REPO_ROOT } from "../operator/test/support/samples.ts";
import { SYSTEM_NS } from "../operator/test/support/install.ts";
import { apiErrorStatus } from "../operator/src/kube/api-error.ts";
import { condition, TrustgateStack } from "./support/stack.ts";

const NS = "e2e-workloads";
const SNP_NODE = "e2e-snp-1";
const TDX_NODE = "e2e-tdx-1";
const TDX_OK_NODE = "e2e-tdx-2";
const CC_MODE_FILE = "etc/trustgate/cc-mode.json";
const IMAGE = `registry.example.com/trustgate/cvm-ubuntu-24.04@sha256:${"9b".repeat(32)}`;
const run = promisify(execFile);
const REQUIRES = "trustgate.io/requires-attested-vm";

/** The demo flow as assertions, then what a platform team must be able to rely on when things go wrong. */
describe("e2e: the three steps on the local control plane (agents, controller, KubeVirt simulator, guests)", function () {
  this.timeout(240_000);
  let stack: TrustgateStack;

  const cvm = (name: string) => stack.cvm(NS, name);
  /** Creates a workload Pod that needs `cvm`; the admission refusal message, or undefined when admitted. */
  let pods = 0;
  const refusal = async (cvm: string): Promise<string | undefined> =>
    stack.admin
      .makeApiClient(CoreV1Api)
      .createNamespacedPod({
        namespace: NS,
        body: {
          metadata: { name: `inference-${String(++pods)}`, labels: { app: "inference", [REQUIRES]: cvm } },
          spec: { containers: [{ name: "app", image: "registry.example.com/inference:1" }] },
        },
      })
      .then(
        () => undefined,
        (error: unknown) => {
          const status = apiErrorStatus(error);
          if (status === undefined) throw error as Error;
          return status.message;
        },
      );
  const kdsRequests = (): string[] =>
    (stack.collateral?.seen ?? [])
      .map((r) => r.path)
      .filter((path) => path.startsWith("/vcek/") || path.startsWith("/vlek/"));
  // The handshake sets Attested; the lifecycle derives the phase from it on its next write.
  const isAttested = async (name: string): Promise<boolean> => {
    const c = await cvm(name);
    return condition(c, "Attested").status === "True" && c?.status?.phase === "Attested";
  };

  before(async function () {
    const admin = await kubeConfig();
    stack = new TrustgateStack(admin, await makeTempDir("trustgate-e2e-"), [
      { node: SNP_NODE, fixture: "snp-genoa-4xh100" },
      { node: TDX_NODE, fixture: "tdx-8xh100-gpu-cc-off" },
      { node: TDX_OK_NODE, fixture: "tdx-8xh100" },
    ]);
    await stack.start([NS]);
    await stack.createPolicy("e2e-simulated", {
      // The policy's defaults: RIM match and revocation checks required. The simulated GPUs carry RIMs and
      // have OCSP responders in the simulated PKI, trusted through the controller's --test-trust-roots.
      snp: { measurement: [SIMULATED_SNP_MEASUREMENT] },
      freshness: { challengeTtl: "60s", reattestInterval: "10m", resultTtl: "20m" },
    });
    await stack.createPolicy("e2e-simulated-tdx", {
      tdx: { mrTd: [SIMULATED_TDX_MRTD] },
      freshness: { challengeTtl: "60s", reattestInterval: "10m", resultTtl: "20m" },
    });
    await admin.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: "model-key" }, stringData: { key: "e2e-model-key" } },
    });
  });

  after(async function () {
    await stack.stop();
  });

  it("step 1: validates the good host, refuses the one with a GPU out of CC mode, and labels both Nodes", async function () {
    await waitUntil(
      "both hosts judged",
      async () =>
        (await Promise.all([SNP_NODE, TDX_NODE].map((n) => readConfidentialHost(stack.admin, n)))).every(
          (h) => h?.status?.conditions?.some((c) => c.type === "Validated") === true,
        ),
      60_000,
    );
    const snp = await readConfidentialHost(stack.admin, SNP_NODE);
    const tdx = await readConfidentialHost(stack.admin, TDX_NODE);
    expect(snp?.status?.conditions?.find((c) => c.type === "Validated")?.status).to.equal("True");
    expect(tdx?.status?.conditions?.find((c) => c.type === "Validated")?.message).to.include(
      "GPU 0000:ab:00.0 CC mode off",
    );
    const core = stack.admin.makeApiClient(CoreV1Api);
    await waitUntil(
      "Node labels",
      async () =>
        (await core.readNode({ name: SNP_NODE })).metadata?.labels?.["trustgate.io/validated"] === "true",
      30_000,
    );
    expect((await core.readNode({ name: SNP_NODE })).metadata?.labels).to.include({
      "trustgate.io/tee": "snp",
      "trustgate.io/gpu-cc": "on",
      "trustgate.io/gpu-count": "4",
    });
    expect((await core.readNode({ name: TDX_NODE })).metadata?.labels?.["trustgate.io/validated"]).to.equal(
      "false",
    );
  });

  it("steps 2 and 3: launches the CVM on the validated host, attests CPU and GPUs, signs a result clients check, releases the secret", async function () {
    await stack.createCvm(NS, "llm", {
      tee: "snp",
      policyRef: "e2e-simulated",
      image: { containerDisk: IMAGE },
      gpus: { count: 2 },
      secrets: [{ name: "model-key" }],
    });
    expect(await refusal("llm"), "a workload for the CVM before it is attested").to.match(
      /llm.*not attested/,
    );
    const guest = await stack.startGuest(NS, "llm");
    await waitUntil("llm Attested", () => isAttested("llm"), 90_000);

    const attested = await cvm("llm");
    expect(attested?.status?.nodeName).to.equal(SNP_NODE);
    expect(attested?.status?.phase).to.equal("Attested");
    expect(attested?.status?.attestation?.gpus).to.have.length(2);
    const vm: unknown = await stack.admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: "kubevirt.io",
      version: "v1",
      namespace: NS,
      plural: "virtualmachines",
      name: "llm",
    });
    expect(JSON.stringify(vm)).to.include(IMAGE);

    // What a client does before sending a byte: check the signed result offline with the operator's JWKS.
    const jwks = await stack.admin
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: "trustgate-jwks", namespace: SYSTEM_NS });
    const jwksFile = join(stack.dir, "jwks.json");
    await writeFile(jwksFile, jwks.data?.["jwks.json"] ?? "");
    const verifyToken = await run(process.execPath, [
      join(REPO_ROOT, "operator/src/cmd/main.ts"),
      "verify-token",
      attested?.status?.attestation?.token ?? "",
      "--jwks",
      jwksFile,
    ]).then(
      (done) => ({ code: 0, stdout: done.stdout }),
      (failed: unknown) => ({
        code: (failed as { code?: number }).code,
        stdout: (failed as { stdout?: string }).stdout,
      }),
    );
    const output = JSON.parse(verifyToken.stdout ?? "{}") as {
      valid?: boolean;
      reason?: string;
      claims?: { sub?: string; "ear.status"?: string };
    };
    const claims = output.claims ?? {};
    // With RIMs matched and revocation checked, the result is affirming and verify-token accepts it (exit 0).
    expect(attested?.status?.attestation?.verdict).to.equal("affirming");
    expect([verifyToken.code, output.valid, claims["ear.status"]]).to.deep.equal([0, true, "affirming"]);
    expect(claims.sub).to.equal(`${NS}/llm`);

    await waitUntil(
      "the secret released to the guest",
      async () =>
        (await readFile(join(stack.dir, "guest-llm/secrets/model-key/key"), "utf8").catch(() => "")) !== "",
      30_000,
    );
    expect(await readFile(join(stack.dir, "guest-llm/secrets/model-key/key"), "utf8")).to.equal(
      "e2e-model-key",
    );
    expect(guest.hasExited()).to.equal(false);

    // Like a real KubeVirt guest, the simulated one sent only its report: the controller fetched the VCEK over HTTPS.
    expect(Object.keys(attested?.status?.evidence?.tee ?? {}).sort()).to.deep.equal(["report", "type"]);
    expect(kdsRequests().some((path) => path.startsWith("/vcek/v1/"))).to.equal(true);

    expect(await refusal("llm"), "a workload for the Attested CVM").to.equal(undefined);
    expect(await refusal("no-such-cvm")).to.include("no-such-cvm");
  });

  it("step 3 for TDX: a TD on a validated TDX host is Attested with the controller fetching Intel's collateral", async function () {
    await stack.createCvm(NS, "td", {
      tee: "tdx",
      policyRef: "e2e-simulated-tdx",
      image: { containerDisk: IMAGE },
      gpus: { count: 1 },
    });
    await stack.startGuest(NS, "td");
    await waitUntil("td Attested", () => isAttested("td"), 90_000);
    const td = await cvm("td");
    expect(td?.status?.nodeName).to.equal(TDX_OK_NODE);
    expect(td?.status?.attestation?.verdict).to.equal("affirming");
    expect(td?.status?.attestation?.tee?.tcbStatus).to.equal("UpToDate");
    expect(
      Object.keys(td?.status?.evidence?.tee ?? {}).sort(),
      "the guest sent its quote only",
    ).to.deep.equal(["quote", "type"]);
    const services = stack.collateral;
    for (const path of [
      "/tdx/certification/v4/tcb",
      "/tdx/certification/v4/qe/identity",
      "/sgx/certification/v4/pckcrl",
      "/sgx/certification/v4/rootcacrl",
    ])
      expect(services?.requestCount(path), path).to.be.greaterThan(0);
  });

  it("converges after the controller crashes mid-flow: one VM, disjoint GPUs, Attested", async function () {
    await stack.createCvm(NS, "batch", {
      tee: "snp",
      policyRef: "e2e-simulated",
      image: { containerDisk: IMAGE },
      gpus: { count: 2 },
    });
    await waitUntil("batch placed", async () => (await cvm("batch"))?.status?.nodeName !== undefined, 60_000);
    const kdsBefore = kdsRequests().length;
    await stack.crashController();
    await stack.startController();
    await stack.startGuest(NS, "batch");
    await waitUntil("batch Attested after the restart", () => isAttested("batch"), 90_000);
    // Same chip, same TCB: the restarted controller appraised from its cache directory, asking AMD nothing.
    expect(kdsRequests().slice(kdsBefore), "KDS requests after the restart").to.deep.equal([]);

    // The device plugin picks the GPUs; status names them once the host reports the allocation (PodResources).
    const observed = async (name: string) => (await cvm(name))?.status?.gpuAllocation?.state === "Observed";
    await waitUntil(
      "both allocations observed",
      async () => (await observed("llm")) && (await observed("batch")),
      60_000,
    );
    const gpus = async (name: string) =>
      ((await cvm(name))?.status?.gpus ?? []).map((g) => g.pciAddress ?? "");
    const both = [...(await gpus("llm")), ...(await gpus("batch"))];
    expect(
      both.every((address) => /^[0-9a-f]{4}:/.test(address)),
      both.join(", "),
    ).to.equal(true);
    expect(new Set(both).size, "no GPU given to two CVMs").to.equal(4);
    const vms: unknown = await stack.admin.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
      group: "kubevirt.io",
      version: "v1",
      namespace: NS,
      plural: "virtualmachines",
    });
    expect(
      (vms as { items: { metadata: { name: string } }[] }).items.map((v) => v.metadata.name).sort(),
    ).to.deep.equal(["batch", "llm", "td"]);
    expect(await isAttested("llm"), "the first CVM stays Attested through the restart").to.equal(true);
  });

  it("fails closed: with the webhook down, workloads needing an attested CVM are refused; others are not", async function () {
    await stack.stopWebhook();
    try {
      expect(await refusal("llm")).to.include("failed calling webhook");
      const plain = await stack.admin.makeApiClient(CoreV1Api).createNamespacedPod({
        namespace: NS,
        body: {
          metadata: { name: "plain", labels: { app: "plain" } },
          spec: { containers: [{ name: "app", image: "registry.example.com/app:1" }] },
        },
      });
      expect(plain.metadata?.uid).to.be.a("string");
    } finally {
      await stack.startWebhook();
    }
    await waitUntil("workloads admitted again", async () => (await refusal("llm")) === undefined, 30_000);
  });

  it("host drift: a GPU leaving CC mode makes its CVMs Degraded, no longer Attested, and new workloads refused", async function () {
    const ccMode = JSON.parse(
      await readFile(join(stack.hostRoots.get(SNP_NODE) ?? "", CC_MODE_FILE), "utf8"),
    ) as {
      gpus: Record<string, { ccMode: string }>;
    };
    const [firstGpu] = Object.keys(ccMode.gpus);
    const entry = firstGpu === undefined ? undefined : ccMode.gpus[firstGpu];
    if (entry === undefined) throw new Error("the fixture host has no GPUs");
    entry.ccMode = "off";
    await stack.changeHostFile(SNP_NODE, CC_MODE_FILE, JSON.stringify(ccMode));

    for (const name of ["llm", "batch"]) {
      await waitUntil(
        `${name} Degraded and not Attested`,
        async () => {
          const c = await cvm(name);
          return c?.status?.phase === "Degraded" && condition(c, "Attested").status === "False";
        },
        60_000,
      );
      expect(condition(await cvm(name), "HostValidated").status).to.equal("False");
    }
    expect((await cvm("llm"))?.status?.message).to.include(`GPU ${firstGpu ?? ""} CC mode off`);
    expect(await refusal("llm"), "a new workload for the no longer attested CVM").to.include("not attested");
  });
});
