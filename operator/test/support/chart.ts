// Shared by the chart-*.test.ts suites: the Helm chart charts/trustgate rendered with the real helm,
// kubectl and kubeconform binaries, and what those suites look up in the rendered objects.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AuthorizationV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { resolveBinDir } from "../../../hack/lib/find-binaries.ts";
import { apiErrorStatus } from "../../src/kube/api-error.ts";
import { applyCrds, readCrdFile } from "./crd-install.ts";
import { installKubevirtCrds } from "./kubevirt/installation.ts";
import { makeTempDir, sharedControlPlane } from "./control-plane.ts";
import { REPO_ROOT } from "./samples.ts";
import { manifests, type Manifest } from "./chart-manifests.ts";

/** The chart's folder. */
export const CHART = join(REPO_ROOT, "charts/trustgate");
// Other integration tests use trustgate-system and the plain "trustgate-*" names: the chart's names
// derive from the release, so this release's objects cannot clash with theirs.
/** The release the chart suites render (and chart-install.test.ts installs). */
export const RELEASE = "trustgate-chart";
/** The release's namespace. */
export const NAMESPACE = "trustgate-chart";
/** The controller's name (Deployment, ServiceAccount, ClusterRole, ...) in RELEASE. */
export const CONTROLLER = `${RELEASE}-controller`;
/** The agent's name in RELEASE. */
export const AGENT = `${RELEASE}-agent`;
/** The webhook's name in RELEASE. */
export const WEBHOOK = `${RELEASE}-webhook`;
/** The CRD files of crds/, the source of truth (samples/ is a folder). */
export const CRD_FILES = readdirSync(join(REPO_ROOT, "crds"))
  .filter((name) => name.endsWith(".yaml"))
  .sort();
/** The value sets every check runs on: the defaults, and the files in charts/trustgate/ci/. */
export const VALUE_SETS: Record<string, string[]> = {
  default: [],
  monitoring: ["ci/monitoring-values.yaml"],
  network: ["ci/network-values.yaml"],
  collateral: ["ci/collateral-values.yaml"],
  ccProbe: ["ci/cc-probe-values.yaml"],
};

/** How a binary exited and what it printed. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** An RBAC PolicyRule, as far as the tests compare it. */
export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

/** The part of JSON Schema the tests read (values.schema.json, OpenAPI v2 definitions). */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  $ref?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
}

/** Runs a binary to completion; never throws on a non-zero exit. */
export function run(
  binary: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunResult> {
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

/** The stdout of a run that exited 0; otherwise throws with `what` and everything it printed. */
export function succeeded(result: RunResult, what: string): string {
  if (result.code !== 0) {
    throw new Error(`${what} exited with ${String(result.code)}:\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

/** An access question; the scope is "" (cluster-wide), a namespace, or "namespace#name" for one object. */
export type Check = [verb: string, group: string, resource: string, namespace: string];

/** Answers Checks with SelfSubjectAccessReviews as the user of `kc`. */
export function canI(kc: KubeConfig): (check: Check) => Promise<boolean> {
  const api = kc.makeApiClient(AuthorizationV1Api);
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
export async function filterChecks(
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

/** One value set rendered by helm template: its text, its objects, and the file holding the text. */
export interface RenderedSet {
  text: string;
  objects: Manifest[];
  file: string;
}

/** The binaries (helm, kubectl for the shared API server), the pinned Kubernetes version, a temp folder. */
export interface ChartTools {
  binDir: string;
  k8sVersion: string;
  dir: string;
  helm(args: string[]): Promise<RunResult>;
  kubectl(args: string[]): Promise<RunResult>;
  /** helm template of RELEASE in NAMESPACE with extra arguments (--set, -f, ...). */
  template(extra: string[]): Promise<RunResult>;
}

/** ChartTools and every value set of VALUE_SETS rendered once. */
export interface Chart extends ChartTools {
  rendered: Record<string, RenderedSet>;
  /** The objects of a value set of VALUE_SETS. */
  objectsOf(set: string): Manifest[];
}

/** Resolves the binaries and the pinned Kubernetes version; helm gets a config folder of its own. */
export async function chartTools(): Promise<ChartTools> {
  const binDir = await resolveBinDir();
  const versions = await readFile(join(REPO_ROOT, "hack/versions.sh"), "utf8");
  const k8sVersion = /^K8S_VERSION=v(\S+)$/m.exec(versions)?.[1];
  if (k8sVersion === undefined) throw new Error("no K8S_VERSION in hack/versions.sh");
  const dir = await makeTempDir("trustgate-chart-");
  // helm keeps its config, cache and data out of $HOME.
  const helmEnv = {
    ...process.env,
    HELM_CONFIG_HOME: join(dir, "helm/config"),
    HELM_CACHE_HOME: join(dir, "helm/cache"),
    HELM_DATA_HOME: join(dir, "helm/data"),
  };
  const helm = (args: string[]): Promise<RunResult> => run(join(binDir, "helm"), args, helmEnv);
  const kubectl = async (args: string[]): Promise<RunResult> =>
    run(join(binDir, "kubectl"), [...args, "--kubeconfig", (await sharedControlPlane()).kubeconfigPath]);
  // --kube-version: render for the pinned Kubernetes version (.Capabilities.KubeVersion), not Helm's default.
  const template = (extra: string[]): Promise<RunResult> =>
    helm(["template", RELEASE, CHART, "-n", NAMESPACE, "--kube-version", k8sVersion, ...extra]);
  return { binDir, k8sVersion, dir, helm, kubectl, template };
}

/**
 * The chart's NOTES.txt as `helm install` would print it, rendered without a cluster: `helm template` leaves
 * NOTES.txt out, so a copy of the chart (made once per ChartTools folder) holds the file's exact text as a
 * named template that one ConfigMap includes.
 */
export async function renderNotes(
  tools: ChartTools,
  extra: string[],
): Promise<RunResult & { notes: string }> {
  const copy = join(tools.dir, "notes-chart");
  const notes = await readFile(join(CHART, "templates/NOTES.txt"), "utf8");
  await rm(copy, { recursive: true, force: true });
  await cp(CHART, copy, { recursive: true });
  await rm(join(copy, "templates/NOTES.txt"));
  await writeFile(join(copy, "templates/_notes.tpl"), `{{- define "notes.txt" -}}\n${notes}\n{{- end }}\n`);
  await writeFile(
    join(copy, "templates/notes.yaml"),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "notes.txt" . | quote }}\n',
  );
  const result = await tools.helm([
    "template",
    RELEASE,
    copy,
    "-n",
    NAMESPACE,
    "--kube-version",
    tools.k8sVersion,
    "--show-only",
    "templates/notes.yaml",
    ...extra,
  ]);
  if (result.code !== 0) return { ...result, notes: "" };
  const [configMap] = manifests(result.stdout);
  return { ...result, notes: (configMap?.["data"] as { notes?: string } | undefined)?.notes ?? "" };
}

/** chartTools, and every value set rendered (about a second). */
export async function prepareChart(): Promise<Chart> {
  const tools = await chartTools();
  const rendered: Record<string, RenderedSet> = {};
  for (const [set, files] of Object.entries(VALUE_SETS)) {
    const text = succeeded(
      await tools.template(files.flatMap((f) => ["-f", join(CHART, f)])),
      `helm template (${set})`,
    );
    const file = join(tools.dir, `${set}.yaml`);
    await writeFile(file, text);
    rendered[set] = { text, objects: manifests(text), file };
  }
  const objectsOf = (set: string): Manifest[] => {
    const entry = rendered[set];
    if (entry === undefined) throw new Error(`value set ${set} was not rendered`);
    return entry.objects;
  };
  return { ...tools, rendered, objectsOf };
}

/** What chartForSuite gives a suite: the prepared chart, and its commands. */
export interface SuiteChart {
  chart: () => Chart;
  helm: Chart["helm"];
  kubectl: Chart["kubectl"];
  template: Chart["template"];
  objectsOf: Chart["objectsOf"];
}

/** The chart for the calling mocha suite, prepared in a `before` hook that this registers (so hooks after it and the tests can use it). */
export function chartForSuite(): SuiteChart {
  let prepared: Chart | undefined;
  before(async function () {
    prepared = await prepareChart();
  });
  const chart = (): Chart => {
    if (prepared === undefined) throw new Error("chartForSuite: the chart is prepared in a before hook");
    return prepared;
  };
  return {
    chart,
    helm: (args) => chart().helm(args),
    kubectl: (args) => chart().kubectl(args),
    template: (extra) => chart().template(extra),
    objectsOf: (set) => chart().objectsOf(set),
  };
}

/**
 * What the chart expects to find in a cluster (as in every other integration test, the CRDs come
 * before the chart, applied with kubectl here), plus `namespace` with Pod Security "privileged", which
 * the agent's hostPath volumes need (see values.yaml). Safe to call from several suites.
 */
export async function prepareCluster(admin: KubeConfig, namespace: string): Promise<void> {
  for (const file of CRD_FILES) await applyCrds(admin, await readCrdFile(join(REPO_ROOT, "crds", file)));
  await installKubevirtCrds(admin);
  await admin
    .makeApiClient(CoreV1Api)
    .createNamespace({
      body: { metadata: { name: namespace, labels: { "pod-security.kubernetes.io/enforce": "privileged" } } },
    })
    .catch((error: unknown) => {
      if (apiErrorStatus(error)?.code !== 409) throw error;
    });
}

/** Whether http://127.0.0.1:<port>/readyz answers 200 (false while nothing listens). */
export async function ready(port: number): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${String(port)}/readyz`).catch(() => undefined);
  await response?.text();
  return response?.status === 200;
}

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** kubeconform's JSON output (-output json -verbose). */
export interface KubeconformResult {
  resources?: { kind: string; name: string; status: string; msg?: string }[];
}

/**
 * kubeconform schemas (the yannh/kubernetes-json-schema layout, strict flavour) generated from the
 * API server's own OpenAPI v2 document, for every kind it serves: kubeconform cannot download any
 * here, and these are exactly the pinned Kubernetes version's types. Each file holds its kind's
 * definition and every definition that one references.
 */
export async function writeKubeconformSchemas(
  openapi: string,
  dir: string,
  version: string,
): Promise<number> {
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
