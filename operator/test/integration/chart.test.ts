// The Helm chart (charts/trustgate) with the real helm, kubeconform and kubectl binaries and the real
// local API server: lint, render, schema-validate, dry-run, install, least privilege, uninstall.
import { expect } from "chai";
import { spawn } from "node:child_process";
import * as https from "node:https";
import { readdirSync } from "node:fs";
import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AdmissionregistrationV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  type V1Container,
  type V1PodSpec,
} from "@kubernetes/client-node";
import { isMap, isScalar, parseAllDocuments, parseDocument, type YAMLMap } from "yaml";
import { freeLoopbackPorts, type ManagedProcess, tailFile } from "../../../hack/lib/managed-process.ts";
import { resolveBinDir } from "../../../hack/lib/find-binaries.ts";
import { apiErrorStatus, isNotFound } from "../../src/kube/api-error.ts";
import { applyCrds, readCrdFile } from "../../src/kube/crd-install.ts";
import { waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir, sharedControlPlane } from "../support/control-plane.ts";
import { podBoundToken, serviceAccountToken, writeTokenKubeconfig } from "../support/identities.ts";
import { REPO_ROOT } from "../support/samples.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

const CHART = join(REPO_ROOT, "charts/trustgate");
// Other integration tests use trustgate-system and the plain "trustgate-*" names: the chart's names
// derive from the release, so this release's objects cannot clash with theirs.
const RELEASE = "trustgate-chart";
const NAMESPACE = "trustgate-chart";
const CONTROLLER = `${RELEASE}-controller`;
const AGENT = `${RELEASE}-agent`;
const WEBHOOK = `${RELEASE}-webhook`;
/** The CRD files of crds/, the source of truth (samples/ is a folder). */
const CRD_FILES = readdirSync(join(REPO_ROOT, "crds"))
  .filter((name) => name.endsWith(".yaml"))
  .sort();
/** The value sets every check runs on: the defaults, and the files in charts/trustgate/ci/. */
const VALUE_SETS: Record<string, string[]> = {
  default: [],
  monitoring: ["ci/monitoring-values.yaml"],
  network: ["ci/network-values.yaml"],
};

interface Manifest extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

interface JsonSchema {
  type?: string | string[];
  description?: string;
  $ref?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
}

/** Runs a binary to completion; never throws on a non-zero exit. */
function run(binary: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

function succeeded(result: RunResult, what: string): string {
  if (result.code !== 0) {
    throw new Error(`${what} exited with ${String(result.code)}:\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

function manifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((obj): obj is Manifest => obj !== null);
}

function find(objects: Manifest[], kind: string, name: string): Manifest {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} rendered`);
  return found;
}

function podSpec(workload: Manifest): V1PodSpec {
  return (workload as unknown as { spec: { template: { spec: V1PodSpec } } }).spec.template.spec;
}

function onlyContainer(workload: Manifest): V1Container {
  const [container, ...others] = podSpec(workload).containers;
  if (container === undefined || others.length > 0) throw new Error("expected exactly one container");
  return container;
}

async function fileObjects(relativePath: string): Promise<Manifest[]> {
  return manifests(await readFile(join(CHART, relativePath), "utf8"));
}

/** "--name=value" flags of a container's args as a map. */
function flags(args: string[]): Map<string, string | true> {
  const result = new Map<string, string | true>();
  for (const arg of args.filter((a) => a.startsWith("--"))) {
    const eq = arg.indexOf("=");
    if (eq < 0) result.set(arg.slice(2), true);
    else result.set(arg.slice(2, eq), arg.slice(eq + 1));
  }
  return result;
}

function asUser(admin: KubeConfig, token: string): KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error("no cluster");
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: "sa", token }],
    contexts: [{ name: "sa", cluster: cluster.name, user: "sa" }],
    currentContext: "sa",
  });
  return kc;
}

/**
 * kubeconform schemas (the yannh/kubernetes-json-schema layout, strict flavour) generated from the
 * API server's own OpenAPI v2 document, for every kind it serves: kubeconform cannot download any
 * here, and these are exactly the pinned Kubernetes version's types. Each file holds its kind's
 * definition and every definition that one references.
 */
async function writeKubeconformSchemas(openapi: string, dir: string, version: string): Promise<number> {
  const spec = JSON.parse(openapi) as {
    definitions: Record<string, JsonSchema & { "x-kubernetes-group-version-kind"?: GroupVersionKind[] }>;
  };
  const defs = spec.definitions;
  // As kubeconform's published schemas do: int-or-string and quantities take numbers too.
  defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {
    oneOf: [{ type: "string" }, { type: "integer" }],
  };
  defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = { oneOf: [{ type: "string" }, { type: "number" }] };
  const strict = (schema: JsonSchema): void => {
    const preserve = (schema as Record<string, unknown>)["x-kubernetes-preserve-unknown-fields"] === true;
    if (schema.properties !== undefined && schema.additionalProperties === undefined && !preserve) {
      schema.additionalProperties = false;
    }
    for (const child of Object.values(schema.properties ?? {})) strict(child);
    if (schema.items !== undefined) strict(schema.items);
    if (typeof schema.additionalProperties === "object") strict(schema.additionalProperties);
  };
  for (const def of Object.values(defs)) strict(def);
  const refsOf = (node: unknown, out: Set<string>): void => {
    if (Array.isArray(node)) for (const item of node) refsOf(item, out);
    else if (node !== null && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "$ref" && typeof value === "string") out.add(value.replace("#/definitions/", ""));
        else refsOf(value, out);
      }
    }
  };
  const out = join(dir, `v${version}-standalone-strict`);
  await mkdir(out, { recursive: true });
  let written = 0;
  for (const [name, def] of Object.entries(defs)) {
    for (const gvk of def["x-kubernetes-group-version-kind"] ?? []) {
      const closure = new Set([name]);
      const todo = [name];
      for (let current = todo.pop(); current !== undefined; current = todo.pop()) {
        const refs = new Set<string>();
        refsOf(defs[current], refs);
        for (const ref of refs) {
          if (!closure.has(ref)) {
            closure.add(ref);
            todo.push(ref);
          }
        }
      }
      // kubeconform's {{ .KindSuffix }}: "-<first label of the group>-<version>", or "-<version>".
      const suffix =
        gvk.group === "" ? `-${gvk.version}` : `-${gvk.group.split(".")[0] ?? ""}-${gvk.version}`;
      const document = {
        $ref: `#/definitions/${name}`,
        definitions: Object.fromEntries([...closure].map((ref) => [ref, defs[ref]])),
      };
      await writeFile(join(out, `${gvk.kind.toLowerCase()}${suffix}.json`), JSON.stringify(document));
      written++;
    }
  }
  return written;
}

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

interface KubeconformResult {
  resources?: { kind: string; name: string; status: string; msg?: string }[];
}

describe("Helm chart charts/trustgate (real helm, kubeconform, kubectl and API server)", function () {
  this.timeout(120_000);
  let binDir: string;
  let k8sVersion: string;
  let dir: string;
  let helmEnv: NodeJS.ProcessEnv;
  const rendered: Record<string, { text: string; objects: Manifest[]; file: string }> = {};

  const helm = (args: string[]): Promise<RunResult> => run(join(binDir, "helm"), args, helmEnv);
  const kubectl = async (args: string[]): Promise<RunResult> =>
    run(join(binDir, "kubectl"), [...args, "--kubeconfig", (await sharedControlPlane()).kubeconfigPath]);
  // --kube-version: without a cluster, helm checks the chart's kubeVersion against a built-in default.
  const template = (extra: string[]): Promise<RunResult> =>
    helm(["template", RELEASE, CHART, "-n", NAMESPACE, "--kube-version", k8sVersion, ...extra]);

  before(async function () {
    binDir = await resolveBinDir();
    const versions = await readFile(join(REPO_ROOT, "hack/versions.sh"), "utf8");
    const pinned = /^K8S_VERSION=v(\S+)$/m.exec(versions)?.[1];
    if (pinned === undefined) throw new Error("no K8S_VERSION in hack/versions.sh");
    k8sVersion = pinned;
    dir = await makeTempDir("trustgate-chart-");
    // helm keeps its config, cache and data out of $HOME.
    helmEnv = {
      ...process.env,
      HELM_CONFIG_HOME: join(dir, "helm/config"),
      HELM_CACHE_HOME: join(dir, "helm/cache"),
      HELM_DATA_HOME: join(dir, "helm/data"),
    };
    for (const [set, files] of Object.entries(VALUE_SETS)) {
      const text = succeeded(
        await template(files.flatMap((f) => ["-f", join(CHART, f)])),
        `helm template (${set})`,
      );
      const file = join(dir, `${set}.yaml`);
      await writeFile(file, text);
      rendered[set] = { text, objects: manifests(text), file };
    }
  });

  function objectsOf(set: string): Manifest[] {
    const entry = rendered[set];
    if (entry === undefined) throw new Error(`value set ${set} was not rendered`);
    return entry.objects;
  }

  describe("the chart on its own", function () {
    it("keeps its CRD copies (crds-src/) byte-for-byte equal to crds/, the source of truth", async function () {
      const copies = (await readdir(join(CHART, "crds-src"))).sort();
      expect(copies, "the same files").to.deep.equal(CRD_FILES);
      for (const name of CRD_FILES) {
        const [source, copy] = await Promise.all([
          readFile(join(REPO_ROOT, "crds", name)),
          readFile(join(CHART, "crds-src", name)),
        ]);
        expect(copy.equals(source), `charts/trustgate/crds-src/${name} differs from crds/${name}`).to.equal(
          true,
        );
      }
    });

    it("passes helm lint and helm lint --strict with every value set", async function () {
      for (const [set, files] of Object.entries(VALUE_SETS)) {
        for (const strict of [[], ["--strict"]]) {
          const args = ["lint", CHART, "--kube-version", k8sVersion, ...strict];
          const out = succeeded(
            await helm([...args, ...files.flatMap((f) => ["-f", join(CHART, f)])]),
            `helm lint ${strict.join(" ")} (${set})`,
          );
          expect(out).to.include("1 chart(s) linted, 0 chart(s) failed");
          expect(out).to.not.match(/\[(WARNING|ERROR)\]/);
        }
      }
    });

    it("rejects unknown and mistyped values through values.schema.json", async function () {
      const cases: [string, RegExp][] = [
        ["bogus=1", /additional properties 'bogus' not allowed/],
        ["controller.bogus=1", /at '\/controller': additional properties 'bogus' not allowed/],
        ["agent.hostPaths.dev=/dev", /at '\/agent\/hostPaths': additional properties 'dev' not allowed/],
        ["controller.replicas=two", /at '\/controller\/replicas': got string, want integer/],
        ["image.digest=sha256:abc", /at '\/image\/digest'.*does not match pattern/],
        ["controller.hostStaleAfter=15 minutes", /at '\/controller\/hostStaleAfter'/],
      ];
      for (const [value, message] of cases) {
        const result = await template(["--set", value]);
        expect(result.code, `--set ${value}`).to.not.equal(0);
        expect(result.stderr, `--set ${value}`).to.match(message);
      }
      const unelected = await template(["--set", "controller.leaderElection.enabled=false"]);
      expect(unelected.stderr).to.include(
        "controller.replicas above 1 needs controller.leaderElection.enabled",
      );
    });

    it("documents and types every value: values.yaml and values.schema.json list the same ones", async function () {
      const schema = JSON.parse(await readFile(join(CHART, "values.schema.json"), "utf8")) as JsonSchema;
      expect(schema.additionalProperties).to.equal(false);
      const values = parseDocument(await readFile(join(CHART, "values.yaml"), "utf8"));
      const undocumented: string[] = [];
      const check = (group: JsonSchema, map: YAMLMap, path: string): void => {
        const keys = map.items.map((pair) => (isScalar(pair.key) ? String(pair.key.value) : ""));
        expect(keys, `keys of ${path || "values.yaml"}`).to.have.members(Object.keys(group.properties ?? {}));
        map.items.forEach((pair, index) => {
          const key = `${path}${keys[index] ?? ""}`;
          const property = group.properties?.[keys[index] ?? ""] ?? {};
          expect(property.description, `schema description of ${key}`).to.be.a("string").and.not.empty;
          expect(property.type ?? property.$ref, `schema type of ${key}`).to.not.equal(undefined);
          if (property.properties !== undefined) {
            expect(property.additionalProperties, `additionalProperties of ${key}`).to.equal(false);
            if (!isMap(pair.value)) throw new Error(`${key} is not a map in values.yaml`);
            check(property, pair.value, `${key}.`);
            return;
          }
          // A value's comment ("-- ...") sits on its key, or on the map when it is the first key.
          const comment =
            (isScalar(pair.key) ? pair.key.commentBefore : undefined) ??
            (index === 0 ? map.commentBefore : undefined);
          if (comment?.includes("-- ") !== true) undocumented.push(key);
        });
      };
      if (!isMap(values.contents)) throw new Error("values.yaml is not a map");
      check(schema, values.contents, "");
      expect(undocumented, "values without a '# -- ' comment in values.yaml").to.deep.equal([]);
    });

    it("renders the CRDs from crds/ unchanged but for labels and the keep policy, only with crds.enabled", async function () {
      const crds = objectsOf("default").filter((o) => o.kind === "CustomResourceDefinition");
      expect(crds.map((c) => c.metadata.name).sort()).to.deep.equal(
        CRD_FILES.map((f) => f.replace(/\.yaml$/, "")),
      );
      for (const name of CRD_FILES) {
        const [source] = manifests(await readFile(join(REPO_ROOT, "crds", name), "utf8"));
        const copy = structuredClone(find(crds, "CustomResourceDefinition", name.replace(/\.yaml$/, "")));
        expect(copy.metadata).to.deep.include({ annotations: { "helm.sh/resource-policy": "keep" } });
        expect(copy.metadata.labels).to.include({
          "app.kubernetes.io/instance": RELEASE,
          "app.kubernetes.io/part-of": "trustgate",
        });
        // Remove what the chart adds; everything else must be exactly the file's.
        const metadata = Object.fromEntries(
          Object.entries(copy.metadata).filter(([key]) => key !== "annotations" && key !== "labels"),
        ) as Manifest["metadata"];
        if (source?.metadata.labels !== undefined) metadata.labels = source.metadata.labels;
        copy.metadata = metadata;
        expect(copy, name).to.deep.equal(source);
      }
      expect(objectsOf("monitoring").filter((o) => o.kind === "CustomResourceDefinition")).to.be.empty;
    });

    it("renders the RBAC rules of files/rbac/ unchanged, under the release's names", async function () {
      for (const [component, file] of [
        [CONTROLLER, "files/rbac/controller.yaml"],
        [AGENT, "files/rbac/agent.yaml"],
      ] as const) {
        const source = await fileObjects(file);
        const objects = objectsOf("default");
        const rules = (obj: Manifest | undefined): Rule[] | undefined => obj?.["rules"] as Rule[] | undefined;
        const sourceRole = source.find((o) => o.kind === "ClusterRole");
        expect(rules(find(objects, "ClusterRole", component)), `${file} ClusterRole`).to.deep.equal(
          rules(sourceRole),
        );
        expect(find(objects, "ClusterRoleBinding", component)).to.deep.include({
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: component },
          subjects: [{ kind: "ServiceAccount", name: component, namespace: NAMESPACE }],
        });
        expect(find(objects, "ServiceAccount", component).metadata.namespace).to.equal(NAMESPACE);
        const sourceLeaderRole = source.find((o) => o.kind === "Role");
        if (sourceLeaderRole !== undefined) {
          const role = find(objects, "Role", `${component}-leader-election`);
          expect(role.metadata.namespace).to.equal(NAMESPACE);
          expect(rules(role), `${file} Role`).to.deep.equal(rules(sourceLeaderRole));
          expect(find(objects, "RoleBinding", `${component}-leader-election`)).to.deep.include({
            roleRef: {
              apiGroup: "rbac.authorization.k8s.io",
              kind: "Role",
              name: `${component}-leader-election`,
            },
            subjects: [{ kind: "ServiceAccount", name: component, namespace: NAMESPACE }],
          });
        }
      }
    });

    it("renders the agent's ValidatingAdmissionPolicy of files/admission/ unchanged but for whom it matches", async function () {
      const [policy, binding] = await fileObjects("files/admission/agent-node-restriction.yaml");
      const name = `${AGENT}-node-restriction`;
      const objects = objectsOf("default");
      const renderedPolicy = find(objects, "ValidatingAdmissionPolicy", name);
      const expected = structuredClone(policy?.["spec"]) as {
        matchConditions: { name: string; expression: string }[];
      };
      const condition = expected.matchConditions.find((c) => c.name === "is-trustgate-agent");
      if (condition === undefined) throw new Error("the policy file has no is-trustgate-agent condition");
      condition.expression = `request.userInfo.username == 'system:serviceaccount:${NAMESPACE}:${AGENT}'`;
      expect(renderedPolicy["spec"]).to.deep.equal(expected);
      expect(find(objects, "ValidatingAdmissionPolicyBinding", name)["spec"]).to.deep.equal({
        ...(binding?.["spec"] as object),
        policyName: name,
      });
    });

    it("runs the controller non-root with a read-only root filesystem, leader election, probes and limits", function () {
      const deployment = find(objectsOf("default"), "Deployment", CONTROLLER);
      const spec = podSpec(deployment);
      const container = onlyContainer(deployment);
      expect((deployment["spec"] as { replicas: number }).replicas).to.equal(2);
      expect(spec.serviceAccountName).to.equal(CONTROLLER);
      expect(spec.securityContext).to.deep.include({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(container.securityContext).to.deep.equal({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(container.args?.[0]).to.equal("controller");
      expect(Object.fromEntries(flags(container.args ?? []))).to.deep.equal({
        "leader-elect": true,
        "leader-election-namespace": NAMESPACE,
        "leader-election-id": CONTROLLER,
        "metrics-bind-address": ":8080",
        "host-stale-after": "15m",
        resync: "10m",
        workers: "8",
      });
      expect(container.env).to.deep.include.members([
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "NODE_OPTIONS", value: "--max-old-space-size=256 --max-semi-space-size=2" },
      ]);
      expect(container.ports).to.deep.equal([{ name: "metrics", containerPort: 8080, protocol: "TCP" }]);
      expect(container.readinessProbe?.httpGet).to.deep.equal({ path: "/readyz", port: "metrics" });
      expect(container.livenessProbe?.httpGet).to.deep.equal({ path: "/healthz", port: "metrics" });
      expect(container.resources?.limits).to.include({ memory: "512Mi" });
      expect(container.resources?.requests).to.have.keys("cpu", "memory");
      expect(container.image).to.equal("trustgate:0.1.0");

      const pdb = find(objectsOf("default"), "PodDisruptionBudget", CONTROLLER);
      expect(pdb["spec"]).to.deep.include({ minAvailable: 1 });
      const service = find(objectsOf("default"), "Service", `${CONTROLLER}-metrics`);
      expect(service["spec"]).to.deep.include({
        ports: [{ name: "metrics", port: 8080, targetPort: "metrics", protocol: "TCP" }],
      });
      // The PDB and the metrics Service select exactly the controller's pods.
      const podLabels = (deployment["spec"] as { template: { metadata: { labels: Record<string, string> } } })
        .template.metadata.labels;
      expect(podLabels).to.include(
        (pdb["spec"] as { selector: { matchLabels: object } }).selector.matchLabels,
      );
      expect(podLabels).to.include((service["spec"] as { selector: object }).selector);
    });

    it("gives the agent read-only host mounts, NODE_NAME from the pod, root without capabilities", function () {
      const daemonSet = find(objectsOf("default"), "DaemonSet", AGENT);
      const spec = podSpec(daemonSet);
      const container = onlyContainer(daemonSet);
      expect(spec.serviceAccountName).to.equal(AGENT);
      expect(spec.hostNetwork ?? false, "no host network").to.equal(false);
      expect(spec.hostPID ?? false, "no host PID namespace").to.equal(false);
      expect(container.securityContext).to.deep.equal({
        runAsUser: 0,
        privileged: false,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(container.env).to.deep.include({
        name: "NODE_NAME",
        valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
      });
      expect(Object.fromEntries(flags(container.args ?? []))).to.deep.equal({
        "host-root": "/host",
        "key-file": "/var/lib/trustgate/agent-key.jwk",
        interval: "60s",
      });
      const hostPaths = Object.fromEntries(
        (spec.volumes ?? []).map((v) => [v.name, `${v.hostPath?.path ?? "?"} ${v.hostPath?.type ?? ""}`]),
      );
      expect(hostPaths).to.deep.equal({
        "host-sys": "/sys Directory",
        "host-proc": "/proc Directory",
        "host-config": "/etc/trustgate DirectoryOrCreate",
        "key-dir": "/var/lib/trustgate DirectoryOrCreate",
      });
      const mounts = Object.fromEntries(
        (container.volumeMounts ?? []).map((m) => [
          m.name,
          `${m.mountPath}${m.readOnly === true ? " ro" : " rw"}`,
        ]),
      );
      expect(mounts).to.deep.equal({
        "host-sys": "/host/sys ro",
        "host-proc": "/host/proc ro",
        "host-config": "/host/etc/trustgate ro",
        "key-dir": "/var/lib/trustgate rw",
      });
      expect(spec.nodeSelector).to.deep.equal({
        "kubernetes.io/os": "linux",
        "nvidia.com/gpu.present": "true",
      });
      expect(spec.tolerations).to.deep.equal([
        { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
      ]);
      // /dev only on request.
      const withDev = find(objectsOf("monitoring"), "DaemonSet", "tg-agent");
      expect(onlyContainer(withDev).volumeMounts).to.deep.include({
        name: "host-dev",
        mountPath: "/host/dev",
        readOnly: true,
      });
    });

    it("limits the controller's network to the API server, DNS and metrics scrapes (and the agent's to the first two)", function () {
      const policy = find(objectsOf("default"), "NetworkPolicy", CONTROLLER)["spec"] as {
        policyTypes: string[];
        ingress: { ports: { port: number }[]; from?: unknown }[];
        egress: { ports: { protocol: string; port: number }[]; to?: unknown[] }[];
      };
      expect(policy.policyTypes).to.deep.equal(["Ingress", "Egress"]);
      expect(policy.ingress).to.deep.equal([{ ports: [{ protocol: "TCP", port: 8080 }] }]);
      expect(policy.egress.map((e) => e.ports.map((p) => `${p.protocol}/${String(p.port)}`))).to.deep.equal([
        ["TCP/443", "TCP/6443"],
        ["UDP/53", "TCP/53"],
      ]);
      const agent = find(objectsOf("default"), "NetworkPolicy", AGENT)["spec"] as Record<string, unknown>;
      expect(agent["ingress"], "no ingress rule: nothing may connect to the agent").to.equal(undefined);
      expect(agent["policyTypes"]).to.deep.equal(["Ingress", "Egress"]);

      const pinned = find(objectsOf("network"), "NetworkPolicy", CONTROLLER)["spec"] as typeof policy;
      expect(pinned.egress[0]?.to).to.deep.equal([
        { ipBlock: { cidr: "10.0.0.1/32" } },
        { ipBlock: { cidr: "192.168.10.0/24" } },
      ]);
      expect(pinned.ingress[0]?.from).to.deep.equal([
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
      ]);
      expect(pinned.egress).to.have.length(3);
      expect(objectsOf("monitoring").filter((o) => o.kind === "NetworkPolicy")).to.be.empty;
    });

    it("renders the second value set: digest-pinned image, ServiceMonitor, no NetworkPolicy, no CRDs", function () {
      const objects = objectsOf("monitoring");
      const image = `registry.example.com/trustgate/trustgate@sha256:${"ab".repeat(32)}`;
      expect(onlyContainer(find(objects, "Deployment", "tg-controller")).image).to.equal(image);
      expect(onlyContainer(find(objects, "DaemonSet", "tg-agent")).image).to.equal(image);
      const monitor = find(objects, "ServiceMonitor", "tg-controller");
      const service = find(objects, "Service", "tg-controller-metrics");
      expect(monitor.apiVersion).to.equal("monitoring.coreos.com/v1");
      expect(monitor.metadata.labels).to.include({ release: "prometheus" });
      const monitorSpec = monitor["spec"] as {
        selector: { matchLabels: Record<string, string> };
        endpoints: Record<string, unknown>[];
        namespaceSelector: unknown;
      };
      expect(service.metadata.labels).to.include(monitorSpec.selector.matchLabels);
      expect(monitorSpec.namespaceSelector).to.deep.equal({ matchNames: [NAMESPACE] });
      expect(monitorSpec.endpoints).to.deep.equal([
        { port: "metrics", path: "/metrics", scheme: "http", interval: "15s", scrapeTimeout: "5s" },
      ]);
      expect(objects.map((o) => o.kind)).to.not.include.members([
        "NetworkPolicy",
        "CustomResourceDefinition",
      ]);
      expect(objectsOf("default").map((o) => o.kind)).to.not.include("ServiceMonitor");
    });
    it("renders the webhook: 2 replicas, non-root, read-only root filesystem, probes, PDB, Service, self-managed certificates", function () {
      const objects = objectsOf("default");
      const deployment = find(objects, "Deployment", WEBHOOK);
      const spec = podSpec(deployment);
      const container = onlyContainer(deployment);
      expect((deployment["spec"] as { replicas: number }).replicas).to.equal(2);
      expect(spec.serviceAccountName).to.equal(WEBHOOK);
      expect(spec.securityContext).to.deep.include({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(container.securityContext).to.deep.equal({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(container.args?.[0]).to.equal("webhook");
      expect(Object.fromEntries(flags(container.args ?? []))).to.deep.equal({
        "bind-address": ":9443",
        "metrics-bind-address": ":8080",
        namespace: NAMESPACE,
        "cert-secret": `${WEBHOOK}-tls`,
        "service-name": WEBHOOK,
        "cluster-domain": "cluster.local",
        "webhook-configuration": WEBHOOK,
        "cert-lifetime": "2160h",
        "ca-lifetime": "8760h",
      });
      expect(container.ports?.map((p) => `${p.name ?? ""}:${String(p.containerPort)}`)).to.deep.equal([
        "webhook:9443",
        "metrics:8080",
      ]);
      expect(container.readinessProbe?.httpGet).to.deep.equal({ path: "/readyz", port: "metrics" });
      expect(container.livenessProbe?.httpGet).to.deep.equal({ path: "/healthz", port: "metrics" });
      expect(container.resources?.limits).to.include({ memory: "256Mi" });
      expect(container.volumeMounts, "self-managed: no certificate volume").to.equal(undefined);
      const podLabels = (deployment["spec"] as { template: { metadata: { labels: Record<string, string> } } })
        .template.metadata.labels;
      const pdb = find(objects, "PodDisruptionBudget", WEBHOOK)["spec"] as {
        minAvailable: number;
        selector: { matchLabels: object };
      };
      expect(pdb.minAvailable).to.equal(1);
      expect(podLabels).to.include(pdb.selector.matchLabels);
      const service = find(objects, "Service", WEBHOOK)["spec"] as { selector: object; ports: unknown[] };
      expect(podLabels).to.include(service.selector);
      expect(service.ports).to.deep.equal([
        { name: "https", port: 443, targetPort: "webhook", protocol: "TCP" },
      ]);
    });

    it("renders a fail-closed ValidatingWebhookConfiguration that skips kube-system and the release namespace", function () {
      const config = find(objectsOf("default"), "ValidatingWebhookConfiguration", WEBHOOK) as unknown as {
        metadata: { annotations?: object };
        webhooks: {
          name: string;
          failurePolicy: string;
          sideEffects: string;
          timeoutSeconds: number;
          admissionReviewVersions: string[];
          clientConfig: {
            service: { name: string; namespace: string; path: string; port: number };
            caBundle?: string;
          };
          rules: { resources: string[]; operations: string[] }[];
          namespaceSelector?: unknown;
          objectSelector?: unknown;
          matchConditions?: { expression: string }[];
        }[];
      };
      expect(config.metadata.annotations, "self-managed: no cert-manager injection").to.equal(undefined);
      expect(config.webhooks.map((w) => `${w.name} ${w.clientConfig.service.path}`)).to.deep.equal([
        "pods.webhook.trustgate.io /validate/workloads",
        "workloads.webhook.trustgate.io /validate/workloads",
        "cronjobs.webhook.trustgate.io /validate/workloads",
        "confidentialvms.webhook.trustgate.io /validate/confidentialvms",
        "attestationpolicies.webhook.trustgate.io /validate/attestationpolicies",
      ]);
      const excluded = {
        matchExpressions: [
          { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", NAMESPACE] },
        ],
      };
      for (const w of config.webhooks) {
        expect(w, w.name).to.deep.include({
          failurePolicy: "Fail",
          sideEffects: "None",
          timeoutSeconds: 5,
          admissionReviewVersions: ["v1"],
        });
        expect(w.clientConfig, w.name).to.deep.equal({
          service: { name: WEBHOOK, namespace: NAMESPACE, path: w.clientConfig.service.path, port: 443 },
        });
        // AttestationPolicies are cluster-scoped: a namespaceSelector would not apply.
        if (!w.name.startsWith("attestationpolicies"))
          expect(w.namespaceSelector, w.name).to.deep.equal(excluded);
      }
      const [pods, workloads, cronjobs, cvms, policies] = config.webhooks;
      expect(pods?.objectSelector).to.deep.equal({
        matchExpressions: [{ key: "trustgate.io/requires-attested-vm", operator: "Exists" }],
      });
      expect(pods?.rules[0]?.operations).to.deep.equal(["CREATE"]);
      expect(workloads?.matchConditions?.[0]?.expression).to.include("object.spec.template.metadata.labels");
      expect(cronjobs?.matchConditions?.[0]?.expression).to.include("object.spec.jobTemplate.spec.template");
      expect(cvms?.rules[0]).to.deep.include({
        resources: ["confidentialvms"],
        operations: ["CREATE", "UPDATE"],
      });
      expect(policies?.rules[0]).to.deep.include({
        resources: ["attestationpolicies"],
        operations: ["DELETE"],
      });
    });

    it("renders the webhook's RBAC from files/rbac/webhook.yaml under the release's names, certificate rules only when self-managed", async function () {
      const source = await fileObjects("files/rbac/webhook.yaml");
      const renamed = (kind: string): Rule[] =>
        (
          (source.find((o) => o.kind === kind)?.["rules"] ?? []) as (Rule & { resourceNames?: string[] })[]
        ).map((rule) => {
          const names: Record<string, string> = {
            validatingwebhookconfigurations: WEBHOOK,
            secrets: `${WEBHOOK}-tls`,
            configmaps: "trustgate-jwks",
          };
          return rule.resourceNames === undefined
            ? rule
            : { ...rule, resourceNames: [names[rule.resources?.[0] ?? ""] ?? "?"] };
        });
      const objects = objectsOf("default");
      const rules = (obj: Manifest): Rule[] => obj["rules"] as Rule[];
      expect(rules(find(objects, "ClusterRole", WEBHOOK))).to.deep.equal(renamed("ClusterRole"));
      expect(rules(find(objects, "Role", WEBHOOK))).to.deep.equal(renamed("Role"));
      expect(find(objects, "Role", WEBHOOK).metadata.namespace).to.equal(NAMESPACE);
      for (const kind of ["ClusterRoleBinding", "RoleBinding"]) {
        expect(find(objects, kind, WEBHOOK)["subjects"]).to.deep.equal([
          { kind: "ServiceAccount", name: WEBHOOK, namespace: NAMESPACE },
        ]);
      }

      // With cert-manager: an Issuer and a Certificate, the CA injected, files instead of the Secret API.
      const certManager = manifests(
        succeeded(
          await template(["--set", "webhook.certManager.enabled=true"]),
          "helm template (cert-manager)",
        ),
      );
      const resources = (obj: Manifest): string[] => rules(obj).flatMap((r) => r.resources ?? []);
      expect(resources(find(certManager, "ClusterRole", WEBHOOK))).to.not.include(
        "validatingwebhookconfigurations",
      );
      expect(resources(find(certManager, "Role", WEBHOOK))).to.deep.equal(["configmaps"]);
      expect(find(certManager, "ValidatingWebhookConfiguration", WEBHOOK).metadata).to.deep.include({
        annotations: { "cert-manager.io/inject-ca-from": `${NAMESPACE}/${WEBHOOK}` },
      });
      expect(find(certManager, "Issuer", `${WEBHOOK}-selfsigned`)["spec"]).to.deep.equal({ selfSigned: {} });
      expect(find(certManager, "Certificate", WEBHOOK)["spec"]).to.deep.include({
        secretName: `${WEBHOOK}-tls`,
        dnsNames: [`${WEBHOOK}.${NAMESPACE}.svc`, `${WEBHOOK}.${NAMESPACE}.svc.cluster.local`],
        privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
        issuerRef: { group: "cert-manager.io", kind: "Issuer", name: `${WEBHOOK}-selfsigned` },
      });
      const deployment = find(certManager, "Deployment", WEBHOOK);
      const args = flags(onlyContainer(deployment).args ?? []);
      expect(args.get("cert-dir")).to.equal("/var/run/trustgate/tls");
      expect(args.has("cert-secret") || args.has("webhook-configuration")).to.equal(false);
      expect(podSpec(deployment).volumes).to.deep.equal([
        { name: "tls", secret: { secretName: `${WEBHOOK}-tls` } },
      ]);
      const ownIssuer = manifests(
        succeeded(
          await template([
            "--set",
            "webhook.certManager.enabled=true",
            "--set",
            "webhook.certManager.issuerRef.name=corp-ca,webhook.certManager.issuerRef.kind=ClusterIssuer",
          ]),
          "helm template (cert-manager, own issuer)",
        ),
      );
      expect(ownIssuer.map((o) => o.kind)).to.not.include("Issuer");
      expect(find(ownIssuer, "Certificate", WEBHOOK)["spec"]).to.deep.include({
        issuerRef: { name: "corp-ca", kind: "ClusterIssuer" },
      });
      const off = manifests(
        succeeded(await template(["--set", "webhook.enabled=false"]), "helm template (no webhook)"),
      );
      expect(off.filter((o) => o.metadata.name.startsWith(WEBHOOK))).to.deep.equal([]);
    });

    it("lets anyone reach the webhook's HTTPS port unless webhookFrom says who (the API server's address is cluster-specific)", function () {
      type Policy = {
        ingress: { ports: { port: number }[]; from?: unknown }[];
        egress: unknown[];
        policyTypes: string[];
      };
      const policy = find(objectsOf("default"), "NetworkPolicy", WEBHOOK)["spec"] as Policy;
      expect(policy.policyTypes).to.deep.equal(["Ingress", "Egress"]);
      expect(policy.ingress).to.deep.equal([
        { ports: [{ protocol: "TCP", port: 9443 }] },
        { ports: [{ protocol: "TCP", port: 8080 }] },
      ]);
      expect(policy.egress).to.have.length(2);
      const pinned = find(objectsOf("network"), "NetworkPolicy", WEBHOOK)["spec"] as Policy;
      expect(pinned.ingress[1]?.from, "scrapes as for the controller").to.deep.equal([
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
      ]);
    });
  });

  describe("the container image (Dockerfile; there is no Docker engine here to build it)", function () {
    it("builds with the commands make build and the tests use, on the tests' Node, into the entrypoint the chart runs", async function () {
      const read = (file: string): Promise<string> => readFile(join(REPO_ROOT, file), "utf8");
      const [dockerfile, setupNode, makefile, versions, chartYaml, pkg] = await Promise.all([
        read("Dockerfile"),
        read("hack/setup-node.sh"),
        read("Makefile"),
        read("hack/versions.sh"),
        read("charts/trustgate/Chart.yaml"),
        read("package.json"),
      ]);
      const runs = [...dockerfile.matchAll(/^RUN (.+)$/gm)].map((m) => m[1]);
      expect(runs).to.deep.equal([
        "npm ci --no-audit --no-fund --loglevel=error",
        "npx tsc -p tsconfig.build.json",
        "npm ci --omit=dev --no-audit --no-fund --loglevel=error",
      ]);
      expect(setupNode).to.include("npm ci --no-audit --no-fund --loglevel=error");
      expect(makefile).to.include("tsc -p tsconfig.build.json");
      const nodeVersion = /^NODE_VERSION=(\S+)$/m.exec(versions)?.[1] ?? "?";
      expect(dockerfile).to.include(`ARG NODE_IMAGE=node:${nodeVersion}-bookworm-slim`);
      expect(dockerfile).to.match(/^USER 65532:65532$/m);
      expect(dockerfile).to.include('ENTRYPOINT ["node", "/app/dist/operator/src/cmd/main.js"]');
      // tsconfig.build.json compiles operator/src/cmd/main.ts to dist/operator/src/cmd/main.js.
      await readFile(join(REPO_ROOT, "operator/src/cmd/main.ts"));
      // The chart's default image tag is the version the image reports.
      const appVersion = /^appVersion: "(.+)"$/m.exec(chartYaml)?.[1];
      expect(appVersion).to.equal((JSON.parse(pkg) as { version: string }).version);
    });
  });

  describe("on the local API server", function () {
    let admin: KubeConfig;

    before(async function () {
      admin = await kubeConfig();
      // As in every other integration test (and in clusters set up with kubectl), the CRDs exist
      // before the chart comes: the install below has to adopt them.
      for (const file of CRD_FILES) await applyCrds(admin, await readCrdFile(join(REPO_ROOT, "crds", file)));
      for (const crd of ["virtualmachines", "virtualmachineinstances"]) {
        await applyCrds(
          admin,
          await readCrdFile(join(REPO_ROOT, `hack/kubevirt/crds/${crd}.kubevirt.io.yaml`)),
          60_000,
        );
      }
      // The agent's hostPath volumes need Pod Security "privileged" (see values.yaml).
      await admin.makeApiClient(CoreV1Api).createNamespace({
        body: {
          metadata: { name: NAMESPACE, labels: { "pod-security.kubernetes.io/enforce": "privileged" } },
        },
      });
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
        const skipped = (report.resources ?? [])
          .filter((r) => r.status === "statusSkipped")
          .map((r) => r.kind);
        expect(skipped, set).to.deep.equal(
          objects.filter((o) => o.kind === "ServiceMonitor").map((o) => o.kind),
        );
        const valid = (report.resources ?? []).filter((r) => r.status === "statusValid");
        expect(valid, `every other object of ${set} checked`).to.have.length(objects.length - skipped.length);
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
      const discovery = await kubectl([
        "api-resources",
        "--api-group",
        "monitoring.coreos.com",
        "-o",
        "name",
      ]);
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
      const agent = find(objects, "DaemonSet", AGENT);
      expect(await dryRunPod("baseline", agent)).to.match(
        /violates PodSecurity "baseline:latest": hostPath volumes \(volumes "host-sys", "host-proc", "host-config", "key-dir"\)$/,
      );
      expect(await dryRunPod("privileged", agent)).to.equal(undefined);
    });

    describe("helm install, then the components under the chart's ServiceAccounts", function () {
      const processes: ManagedProcess[] = [];
      const nodes = ["chart-node-a", "chart-node-b"];
      let installed: Manifest[] = [];

      after(async function () {
        await Promise.all(processes.map((p) => p.stop()));
        // Its failurePolicy is Fail and nothing serves it here: never leave it behind for later suites.
        await admin
          .makeApiClient(AdmissionregistrationV1Api)
          .deleteValidatingWebhookConfiguration({ name: WEBHOOK })
          .catch(() => undefined);
        // Leave nothing behind for later tests: the ConfidentialHost and Nodes made here.
        const objects = admin.makeApiClient(CustomObjectsApi);
        const core = admin.makeApiClient(CoreV1Api);
        for (const name of nodes) {
          await objects
            .deleteClusterCustomObject({
              group: "trustgate.io",
              version: "v1alpha1",
              plural: "confidentialhosts",
              name,
            })
            .catch(() => undefined);
          await core.deleteNode({ name }).catch(() => undefined);
        }
      });

      it("installs into the local API server, adopting CRDs that kubectl applied before", async function () {
        const kubeconfig = (await sharedControlPlane()).kubeconfigPath;
        // Stale chart CRDs would replace the current ones for every test after this one.
        for (const name of CRD_FILES) {
          const [source, copy] = await Promise.all([
            readFile(join(REPO_ROOT, "crds", name)),
            readFile(join(CHART, "crds-src", name)),
          ]);
          if (!copy.equals(source))
            throw new Error(`charts/trustgate/crds-src/${name} is stale; not installing`);
        }
        const install = ["install", RELEASE, CHART, "-n", NAMESPACE, "--kubeconfig", kubeconfig];
        const refused = await helm(install);
        expect(refused.code, "Helm refuses objects it does not own").to.not.equal(0);
        expect(refused.stderr).to.match(
          /CustomResourceDefinition ".*\.trustgate\.io" .* exists and cannot be imported/,
        );
        // The adoption README.md describes: mark the CRDs as the release's.
        for (const name of CRD_FILES.map((f) => `crd/${f.replace(/\.yaml$/, "")}`)) {
          succeeded(
            await kubectl(["label", "--overwrite", name, "app.kubernetes.io/managed-by=Helm"]),
            "label",
          );
          succeeded(
            await kubectl([
              "annotate",
              "--overwrite",
              name,
              `meta.helm.sh/release-name=${RELEASE}`,
              `meta.helm.sh/release-namespace=${NAMESPACE}`,
            ]),
            "annotate",
          );
        }
        const started = Date.now();
        const out = succeeded(await helm(install), "helm install");
        console.log(`      helm install took ${String(Date.now() - started)} ms`);
        expect(out).to.include("STATUS: deployed");
        const manifest = succeeded(
          await helm(["get", "manifest", RELEASE, "-n", NAMESPACE, "--kubeconfig", kubeconfig]),
          "helm get manifest",
        );
        installed = manifests(manifest);
        expect(installed.map((o) => `${o.kind}/${o.metadata.name}`).sort()).to.deep.equal(
          objectsOf("default")
            .map((o) => `${o.kind}/${o.metadata.name}`)
            .sort(),
        );
        const api = KubernetesObjectApi.makeApiClient(admin);
        for (const obj of installed) {
          const live = await api.read({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata });
          expect(
            live.metadata?.annotations?.["meta.helm.sh/release-name"],
            `${obj.kind}/${obj.metadata.name}`,
          ).to.equal(RELEASE);
        }
      });

      it("lets the controller's ServiceAccount do its job and nothing more (SelfSubjectAccessReview with its token)", async function () {
        const token = await serviceAccountToken(admin, NAMESPACE, CONTROLLER);
        const can = canI(asUser(admin, token));
        const allowed: Check[] = [
          ["list", "trustgate.io", "confidentialvms", ""],
          ["watch", "trustgate.io", "confidentialhosts", ""],
          ["patch", "trustgate.io", "confidentialhosts/status", ""],
          ["patch", "trustgate.io", "confidentialvms/status", "team-a"],
          ["list", "trustgate.io", "attestationpolicies", ""],
          ["patch", "", "nodes", ""],
          ["create", "kubevirt.io", "virtualmachines", "team-a"],
          ["delete", "kubevirt.io", "virtualmachines", "team-a"],
          ["watch", "kubevirt.io", "virtualmachineinstances", ""],
          ["create", "cdi.kubevirt.io", "datavolumes", "team-a"],
          ["create", "", "events", "team-a"],
          ["get", "coordination.k8s.io", "leases", NAMESPACE],
          ["create", "coordination.k8s.io", "leases", NAMESPACE],
          ["update", "coordination.k8s.io", "leases", NAMESPACE],
        ];
        const denied: Check[] = [
          // files/rbac/controller.yaml lets it get (and create, update) Secrets, to seal a CVM's
          // spec.secrets to its attested guest and keep its signing keys; it can never enumerate them.
          ["list", "", "secrets", ""],
          ["watch", "", "secrets", ""],
          ["list", "", "secrets", NAMESPACE],
          ["delete", "", "secrets", "team-a"],
          ["patch", "", "secrets", "team-a"],
          ["delete", "", "nodes", ""],
          ["update", "", "nodes", ""],
          ["create", "", "pods", "team-a"],
          ["create", "trustgate.io", "confidentialvms", "team-a"],
          ["delete", "trustgate.io", "confidentialhosts", ""],
          ["update", "trustgate.io", "attestationpolicies", ""],
          ["update", "kubevirt.io", "virtualmachines", "team-a"],
          ["update", "coordination.k8s.io", "leases", "kube-system"],
          ["delete", "coordination.k8s.io", "leases", NAMESPACE],
          ["create", "rbac.authorization.k8s.io", "clusterrolebindings", ""],
        ];
        expect(await filterChecks(can, allowed, false), "denied but needed").to.deep.equal([]);
        expect(await filterChecks(can, denied, true), "allowed but not needed").to.deep.equal([]);
      });

      it("lets the agent's ServiceAccount write ConfidentialHosts only, and never Nodes", async function () {
        const can = canI(asUser(admin, await serviceAccountToken(admin, NAMESPACE, AGENT)));
        const allowed: Check[] = [
          ["create", "trustgate.io", "confidentialhosts", ""],
          ["get", "trustgate.io", "confidentialhosts", ""],
          ["patch", "trustgate.io", "confidentialhosts/status", ""],
        ];
        const denied: Check[] = [
          ["patch", "", "nodes", ""],
          ["get", "", "nodes", ""],
          ["list", "trustgate.io", "confidentialhosts", ""],
          ["patch", "trustgate.io", "confidentialhosts", ""],
          ["delete", "trustgate.io", "confidentialhosts", ""],
          ["list", "trustgate.io", "confidentialvms", ""],
          ["get", "", "secrets", NAMESPACE],
          ["update", "coordination.k8s.io", "leases", NAMESPACE],
        ];
        expect(await filterChecks(can, allowed, false), "denied but needed").to.deep.equal([]);
        expect(await filterChecks(can, denied, true), "allowed but not needed").to.deep.equal([]);
      });

      it("lets the webhook's ServiceAccount read CVMs and policies and keep only its own Secret and caBundle", async function () {
        const can = canI(asUser(admin, await serviceAccountToken(admin, NAMESPACE, WEBHOOK)));
        const named = (check: Check, name: string): Check =>
          [...check.slice(0, 3), `${check[3]}#${name}`] as Check;
        const allowed: Check[] = [
          ["list", "trustgate.io", "confidentialvms", ""],
          ["watch", "trustgate.io", "confidentialvms", ""],
          ["list", "trustgate.io", "attestationpolicies", ""],
          ["watch", "trustgate.io", "attestationpolicies", ""],
          named(["get", "admissionregistration.k8s.io", "validatingwebhookconfigurations", ""], WEBHOOK),
          named(["patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", ""], WEBHOOK),
          named(["get", "", "secrets", NAMESPACE], `${WEBHOOK}-tls`),
          named(["update", "", "secrets", NAMESPACE], `${WEBHOOK}-tls`),
          ["create", "", "secrets", NAMESPACE],
          named(["watch", "", "configmaps", NAMESPACE], "trustgate-jwks"),
          named(["list", "", "configmaps", NAMESPACE], "trustgate-jwks"),
        ];
        const denied: Check[] = [
          ["get", "trustgate.io", "confidentialvms", "team-a"],
          ["patch", "trustgate.io", "confidentialvms", "team-a"],
          ["delete", "trustgate.io", "attestationpolicies", ""],
          ["list", "", "secrets", NAMESPACE],
          ["get", "", "secrets", NAMESPACE],
          named(["get", "", "secrets", NAMESPACE], `${CONTROLLER}-signing-keys`),
          ["create", "", "secrets", "team-a"],
          ["list", "", "configmaps", NAMESPACE],
          named(["patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", ""], "other"),
          ["list", "admissionregistration.k8s.io", "validatingwebhookconfigurations", ""],
          ["create", "", "pods", "team-a"],
        ];
        expect(await filterChecks(can, allowed, false), "denied but needed").to.deep.equal([]);
        expect(await filterChecks(can, denied, true), "allowed but not needed").to.deep.equal([]);
      });

      it("runs the controller and an agent with the chart's args and only the chart's RBAC and admission policy", async function () {
        const core = admin.makeApiClient(CoreV1Api);
        const hosts = admin.makeApiClient(CustomObjectsApi);
        const hostRef = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialhosts" };
        const [nodeA, nodeB] = nodes as [string, string];
        for (const name of nodes) {
          await core.createNode({ body: { metadata: { name, labels: { "kubernetes.io/hostname": name } } } });
        }
        // The controller: the rendered Deployment's args, with a kubeconfig holding a token of the
        // chart's controller ServiceAccount and a loopback metrics port.
        const [metricsPort] = await freeLoopbackPorts(1);
        const controllerArgs = (onlyContainer(find(installed, "Deployment", CONTROLLER)).args ?? []).map(
          (arg) =>
            arg.startsWith("--metrics-bind-address=")
              ? `--metrics-bind-address=127.0.0.1:${String(metricsPort)}`
              : arg,
        );
        const controllerKc = await writeTokenKubeconfig(
          admin,
          await serviceAccountToken(admin, NAMESPACE, CONTROLLER),
          join(dir, "controller.kubeconfig"),
        );
        const controller = startTrustgate(
          "chart-controller",
          [...controllerArgs, "--kubeconfig", controllerKc],
          dir,
        );
        processes.push(controller);
        // The agent: the rendered DaemonSet's args, a fixture host as its host root, and a token bound
        // to a pod on node A, as the kubelet would mount it. The host is one the controller refuses
        // (IOMMU off): a Validated one would stay a placement candidate for later tests' CVMs.
        const root = join(dir, "host-a");
        await cp(join(REPO_ROOT, "operator/test/fixtures/hosts/iommu-off"), root, {
          recursive: true,
          verbatimSymlinks: true,
        });
        const agentToken = await podBoundToken(admin, NAMESPACE, AGENT, nodeA);
        const agentKc = await writeTokenKubeconfig(admin, agentToken, join(dir, "agent.kubeconfig"));
        const agentArgs = (onlyContainer(find(installed, "DaemonSet", AGENT)).args ?? []).map((arg) =>
          arg.startsWith("--host-root=")
            ? `--host-root=${root}`
            : arg.startsWith("--key-file=")
              ? `--key-file=${join(dir, "agent-a.jwk")}`
              : arg.startsWith("--interval=")
                ? "--interval=1s"
                : arg,
        );
        processes.push(
          startTrustgate("chart-agent", [...agentArgs, "--node-name", nodeA, "--kubeconfig", agentKc], dir),
        );

        const assertRunning = (): void => {
          for (const p of processes) if (p.hasExited()) throw new Error(`${p.name} exited`);
        };
        try {
          await waitUntil(
            "the controller to be ready (informers synced under the chart's RBAC)",
            async () => {
              assertRunning();
              const response = await fetch(`http://127.0.0.1:${String(metricsPort)}/readyz`).catch(
                () => undefined,
              );
              await response?.text();
              return response?.status === 200;
            },
            30_000,
          );
          const lease = await admin
            .makeApiClient(CoordinationV1Api)
            .readNamespacedLease({ name: CONTROLLER, namespace: NAMESPACE });
          expect(
            lease.spec?.holderIdentity,
            "the controller leads through the Lease in the release namespace",
          ).to.be.a("string").and.not.empty;
          // The agent creates and reports its host; the controller judges it (this fixture has the
          // IOMMU off), pins the agent's key and labels the Node: every write under the chart's RBAC.
          await waitUntil(
            `Node ${nodeA} labelled by the controller`,
            async () => {
              assertRunning();
              return (
                (await core.readNode({ name: nodeA })).metadata?.labels?.["trustgate.io/validated"] ===
                "false"
              );
            },
            30_000,
          );
        } catch (error) {
          throw new Error(
            `${(error as Error).message}\n--- controller log:\n${tailFile(controller.logPath)}\n--- agent log:\n${tailFile(processes[1]?.logPath ?? "")}`,
            { cause: error },
          );
        }
        const host = (await hosts.getClusterCustomObject({ ...hostRef, name: nodeA })) as {
          metadata: { annotations?: Record<string, string> };
          status?: { report?: unknown; conditions?: { type: string; status: string; message: string }[] };
        };
        expect(host.status?.report, "the agent's signed report").to.not.equal(undefined);
        const validated = host.status?.conditions?.find((c) => c.type === "Validated");
        expect(validated).to.include({ status: "False" });
        expect(validated?.message).to.include("IOMMU disabled");
        expect(host.metadata.annotations?.["trustgate.io/pinned-key-id"]).to.be.a("string");

        // The chart's admission policy holds the agent to its own node.
        const agentHosts = asUser(admin, agentToken).makeApiClient(CustomObjectsApi);
        const forge = (): Promise<unknown> =>
          agentHosts.createClusterCustomObject({
            ...hostRef,
            dryRun: "All",
            body: {
              apiVersion: "trustgate.io/v1alpha1",
              kind: "ConfidentialHost",
              metadata: { name: nodeB },
              spec: {},
            },
          });
        let denial: string | undefined;
        await waitUntil("the chart's admission policy to deny the agent another node's host", async () => {
          denial = await forge().then(
            () => undefined,
            (error: unknown) => apiErrorStatus(error)?.message,
          );
          return denial !== undefined;
        });
        expect(denial).to.include(
          `the trustgate agent on node ${nodeA} may only write ConfidentialHost ${nodeA}, not ${nodeB}`,
        );
        expect(denial).to.include(`${AGENT}-node-restriction`);
      });

      it("runs the webhook with the chart's args and only the chart's RBAC: certificates, caBundle, caches, JWKS", async function () {
        const [httpsPort, metricsPort] = (await freeLoopbackPorts(2)) as [number, number];
        const args = (onlyContainer(find(installed, "Deployment", WEBHOOK)).args ?? []).map((arg) =>
          arg.startsWith("--bind-address=")
            ? `--bind-address=127.0.0.1:${String(httpsPort)}`
            : arg.startsWith("--metrics-bind-address=")
              ? `--metrics-bind-address=127.0.0.1:${String(metricsPort)}`
              : arg,
        );
        const kubeconfig = await writeTokenKubeconfig(
          admin,
          await serviceAccountToken(admin, NAMESPACE, WEBHOOK),
          join(dir, "webhook.kubeconfig"),
        );
        const jwks = JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", x: "AA", y: "AA", kid: "k" }] });
        await admin.makeApiClient(CoreV1Api).createNamespacedConfigMap({
          namespace: NAMESPACE,
          body: { metadata: { name: "trustgate-jwks" }, data: { "jwks.json": jwks } },
        });
        const webhook = startTrustgate("chart-webhook", [...args, "--kubeconfig", kubeconfig], dir);
        processes.push(webhook);
        const vwcs = admin.makeApiClient(AdmissionregistrationV1Api);
        let caBundle = "";
        try {
          await waitUntil(
            "the webhook to be ready with its certificates in place (under the chart's RBAC)",
            async () => {
              if (webhook.hasExited()) throw new Error(`the webhook exited: ${await webhook.exited}`);
              const response = await fetch(`http://127.0.0.1:${String(metricsPort)}/readyz`).catch(
                () => undefined,
              );
              await response?.text();
              const config = await vwcs.readValidatingWebhookConfiguration({ name: WEBHOOK });
              caBundle = Buffer.from(config.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString(
                "utf8",
              );
              const patched = (config.webhooks ?? []).every(
                (w) => w.clientConfig.caBundle === config.webhooks?.[0]?.clientConfig.caBundle,
              );
              return response?.status === 200 && caBundle !== "" && patched;
            },
            30_000,
          );
        } catch (error) {
          throw new Error(`${(error as Error).message}\n--- webhook log:\n${tailFile(webhook.logPath)}`, {
            cause: error,
          });
        }
        const secret = await admin
          .makeApiClient(CoreV1Api)
          .readNamespacedSecret({ name: `${WEBHOOK}-tls`, namespace: NAMESPACE });
        expect(secret.type).to.equal("kubernetes.io/tls");
        expect(Object.keys(secret.data ?? {}).sort()).to.deep.equal([
          "ca-bundle.crt",
          "ca.crt",
          "ca.key",
          "tls.crt",
          "tls.key",
        ]);
        // The JWKS over HTTPS, checked against the caBundle and the Service's DNS name, as in-cluster clients would.
        const served = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          https
            .get(
              {
                host: "127.0.0.1",
                port: httpsPort,
                path: "/.well-known/jwks.json",
                servername: `${WEBHOOK}.${NAMESPACE}.svc`,
                ca: caBundle,
                agent: false,
              },
              (response) => {
                let body = "";
                response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
                response.on("end", () => {
                  resolve({ status: response.statusCode ?? 0, body });
                });
              },
            )
            .on("error", reject);
        });
        expect(served).to.deep.equal({ status: 200, body: jwks });
      });

      it("upgrades in place and uninstalls everything but the kept CRDs", async function () {
        const kubeconfig = (await sharedControlPlane()).kubeconfigPath;
        await Promise.all(processes.map((p) => p.stop()));
        succeeded(
          await helm([
            "upgrade",
            RELEASE,
            CHART,
            "-n",
            NAMESPACE,
            "--kubeconfig",
            kubeconfig,
            "--reuse-values",
            "--set",
            "controller.workers=4",
          ]),
          "helm upgrade",
        );
        const apps = KubernetesObjectApi.makeApiClient(admin);
        const deployment = (await apps.read({
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: CONTROLLER, namespace: NAMESPACE },
        })) as unknown as Manifest;
        expect(onlyContainer(deployment).args).to.include("--workers=4");

        const out = succeeded(
          await helm(["uninstall", RELEASE, "-n", NAMESPACE, "--kubeconfig", kubeconfig]),
          "helm uninstall",
        );
        expect(out).to.include(`release "${RELEASE}" uninstalled`);
        const api = KubernetesObjectApi.makeApiClient(admin);
        const left: string[] = [];
        for (const obj of installed) {
          const exists = await api
            .read({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata })
            .then(
              () => true,
              (error: unknown) => {
                if (isNotFound(error)) return false;
                throw error;
              },
            );
          if (exists) left.push(`${obj.kind}/${obj.metadata.name}`);
        }
        expect(left.sort()).to.deep.equal(
          CRD_FILES.map((f) => `CustomResourceDefinition/${f.replace(/\.yaml$/, "")}`),
        );
      });
    });
  });
});

type Check = [verb: string, group: string, resource: string, namespace: string];

function canI(kc: KubeConfig): (check: Check) => Promise<boolean> {
  const api = kc.makeApiClient(AuthorizationV1Api);
  // "namespace#name" asks about one object by name (resourceNames rules).
  return async ([verb, group, resourcePath, scope]) => {
    const [resource, subresource] = resourcePath.split("/");
    const [namespace = "", name] = scope.split("#");
    const review = await api.createSelfSubjectAccessReview({
      body: {
        spec: {
          resourceAttributes: {
            verb,
            group,
            resource: resource ?? "",
            ...(subresource === undefined ? {} : { subresource }),
            ...(namespace === "" ? {} : { namespace }),
            ...(name === undefined ? {} : { name }),
          },
        },
      },
    });
    return review.status?.allowed === true;
  };
}

/** The checks whose answer is `answer`, as "verb group/resource in namespace" strings. */
async function filterChecks(
  can: (check: Check) => Promise<boolean>,
  checks: Check[],
  answer: boolean,
): Promise<string[]> {
  const answers = await Promise.all(checks.map(can));
  return checks
    .filter((_, i) => answers[i] === answer)
    .map(
      ([verb, group, resource, ns]) =>
        `${verb} ${group}/${resource}${ns === "" ? " (cluster-wide)" : ` in ${ns}`}`,
    );
}
