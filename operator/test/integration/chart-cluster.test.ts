// The rendered chart against the real local API server (kube-apiserver + etcd) and the pinned
// Kubernetes version's schemas: kubeconform, a server-side dry run, and Pod Security.
import { expect } from "chai";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { apiErrorStatus } from "../../src/kube/api-error.ts";
import {
  AGENT,
  CONTROLLER,
  type KubeconformResult,
  NAMESPACE,
  chartForSuite,
  prepareCluster,
  RELEASE,
  type RenderedSet,
  run,
  type RunResult,
  succeeded,
  WEBHOOK,
  writeKubeconformSchemas,
} from "../support/chart.ts";
import { find, type Manifest, podSpec } from "../support/chart-manifests.ts";
import { kubeConfig } from "../support/control-plane.ts";

/** The chart's ValidatingAdmissionPolicies (each with a binding of the same name) in the default value set. */
const ADMISSION_POLICIES = [`${RELEASE}-agent-node-restriction`, `${RELEASE}-guest-restriction`];

describe("Helm chart charts/trustgate on the local API server (real kubeconform, kubectl and API server)", function () {
  this.timeout(120_000);
  const { chart, kubectl, objectsOf } = chartForSuite();
  let admin: KubeConfig;
  let binDir: string;
  let k8sVersion: string;
  let dir: string;
  let rendered: Record<string, RenderedSet>;

  before(async function () {
    ({ binDir, k8sVersion, dir, rendered } = chart());
    admin = await kubeConfig();
    // The rendered objects live in the release namespace: the dry run needs it.
    await prepareCluster(admin, NAMESPACE);
  });

  it("validates every rendered object with kubeconform, strict, against the pinned Kubernetes version's schemas", async function () {
    const served = JSON.parse(
      succeeded(await kubectl(["get", "--raw", "/version"]), "kubectl get --raw /version"),
    ) as {
      gitVersion: string;
    };
    expect(served.gitVersion, "the API server is the pinned version").to.equal(`v${k8sVersion}`);
    const openapi = succeeded(
      await kubectl(["get", "--raw", "/openapi/v2"]),
      "kubectl get --raw /openapi/v2",
    );
    const schemas = join(dir, "kubeconform-schemas");
    expect(await writeKubeconformSchemas(openapi, schemas, k8sVersion)).to.be.above(100);
    const kubeconform = (file: string): Promise<RunResult> =>
      run(join(binDir, "kubeconform"), [
        "-strict",
        "-kubernetes-version",
        k8sVersion,
        "-schema-location",
        join(
          schemas,
          "{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json",
        ),
        // The Prometheus Operator's CRD schemas are not in a plain API server.
        "-skip",
        "ServiceMonitor",
        "-output",
        "json",
        "-verbose",
        file,
      ]);
    for (const [set, { file, objects }] of Object.entries(rendered)) {
      const result = await kubeconform(file);
      const report = JSON.parse(result.stdout) as KubeconformResult;
      const problems = (report.resources ?? []).filter(
        (r) => r.status !== "statusValid" && r.kind !== "ServiceMonitor",
      );
      expect(problems, `kubeconform (${set})`).to.deep.equal([]);
      expect(result.code, `kubeconform (${set}): ${result.stderr}`).to.equal(0);
      const skipped = (report.resources ?? []).filter((r) => r.status === "statusSkipped").map((r) => r.kind);
      expect(skipped, set).to.deep.equal(
        objects.filter((o) => o.kind === "ServiceMonitor").map((o) => o.kind),
      );
      const valid = (report.resources ?? []).filter((r) => r.status === "statusValid");
      expect(valid, `every other object of ${set} checked`).to.have.length(objects.length - skipped.length);
      if (set === "default") {
        expect(valid.map((r) => `${r.kind}/${r.name}`)).to.include.members(
          ADMISSION_POLICIES.flatMap((name) => [
            `ValidatingAdmissionPolicy/${name}`,
            `ValidatingAdmissionPolicyBinding/${name}`,
          ]),
        );
      }
      if (skipped.length > 0)
        console.log(`      ${set}: kubeconform skipped ${skipped.join(", ")} (no schema offline)`);
    }
    // The schemas are strict and really used: a misspelled field and a wrong type are refused.
    const broken = rendered["default"]?.text
      .replace("revisionHistoryLimit: 3", "revisionHistoryLimt: 3")
      .replace("minAvailable: 1", "minAvailable: true");
    const brokenFile = join(dir, "broken.yaml");
    await writeFile(brokenFile, broken ?? "");
    const refused = await kubeconform(brokenFile);
    expect(refused.code).to.equal(1);
    expect(refused.stdout).to.include("additional properties 'revisionHistoryLimt' not allowed");
    expect(refused.stdout).to.include("at '/spec/minAvailable'");
  });

  it("passes a server-side dry run of every rendered object (ServiceMonitor skipped: its CRD is absent)", async function () {
    const discovery = await kubectl(["api-resources", "--api-group", "monitoring.coreos.com", "-o", "name"]);
    expect(discovery.stdout.trim(), "no Prometheus Operator CRDs on the local API server").to.equal("");
    for (const [set, { objects }] of Object.entries(rendered)) {
      const applicable = objects.filter((o) => o.kind !== "ServiceMonitor");
      const file = join(dir, `${set}-dry-run.yaml`);
      await writeFile(file, applicable.map((o) => `---\n${JSON.stringify(o)}\n`).join(""));
      const out = succeeded(
        await kubectl([
          "apply",
          "--server-side",
          "--dry-run=server",
          "--field-manager=trustgate-chart-test",
          "--validate=strict",
          // Ownership is not the question here (other tests applied the CRDs with their own manager).
          "--force-conflicts",
          "-f",
          file,
        ]),
        `kubectl apply --dry-run=server (${set})`,
      );
      expect(out.trim().split("\n"), set).to.have.length(applicable.length);
      // The API server compiled the policies' CEL (a dry run validates like a write).
      if (set === "default") {
        for (const name of ADMISSION_POLICIES) {
          for (const kind of ["validatingadmissionpolicy", "validatingadmissionpolicybinding"]) {
            expect(out).to.include(`${kind}.admissionregistration.k8s.io/${name} serverside-applied`);
          }
        }
      }
      const monitors = objects.length - applicable.length;
      if (monitors > 0)
        console.log(`      ${set}: dry run skipped ${String(monitors)} ServiceMonitor (CRD absent)`);
    }
  });

  it("meets Pod Security: the controller and the webhook 'restricted'; the agent breaks only baseline's hostPath rule", async function () {
    const core = admin.makeApiClient(CoreV1Api);
    const suffix = Date.now().toString(36);
    const dryRunPod = async (level: string, workload: Manifest): Promise<string | undefined> => {
      const namespace = `chart-psa-${level}-${suffix}`;
      await core
        .createNamespace({
          body: { metadata: { name: namespace, labels: { "pod-security.kubernetes.io/enforce": level } } },
        })
        .catch((error: unknown) => {
          if (apiErrorStatus(error)?.code !== 409) throw error;
        });
      try {
        await core.createNamespacedPod({
          namespace,
          dryRun: "All",
          body: { metadata: { name: workload.metadata.name }, spec: podSpec(workload) },
        });
        return undefined;
      } catch (error) {
        const status = apiErrorStatus(error);
        if (status === undefined) throw error;
        return status.message;
      }
    };
    const objects = objectsOf("default");
    expect(await dryRunPod("restricted", find(objects, "Deployment", CONTROLLER))).to.equal(undefined);
    expect(await dryRunPod("restricted", find(objects, "Deployment", WEBHOOK))).to.equal(undefined);
    // With every collateral volume (PVC, ConfigMaps, the API key Secret) and the proxy environment too.
    const collateral = find(objectsOf("collateral"), "Deployment", CONTROLLER);
    expect(podSpec(collateral).volumes?.map((v) => v.name)).to.have.length(5);
    expect(await dryRunPod("restricted", collateral)).to.equal(undefined);
    const agent = find(objects, "DaemonSet", AGENT);
    expect(await dryRunPod("baseline", agent)).to.match(
      /violates PodSecurity "baseline:latest": hostPath volumes \(volumes "host-sys", "host-proc", "host-config", "host-pod-resources", "key-dir"\)$/,
    );
    expect(await dryRunPod("privileged", agent)).to.equal(undefined);
    // The opt-in cc-probe init container adds CAP_SYS_ADMIN and no AppArmor confinement: privileged only.
    const probed = find(objectsOf("ccProbe"), "DaemonSet", AGENT);
    const baseline = await dryRunPod("baseline", probed);
    expect(baseline).to.match(/non-default capabilities \(container "cc-probe" must not include "SYS_ADMIN"/);
    expect(baseline).to.match(/forbidden AppArmor profile/);
    expect(await dryRunPod("privileged", probed)).to.equal(undefined);
  });
});
