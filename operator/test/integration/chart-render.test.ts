// The Helm chart charts/trustgate on its own, with the real helm binary: lint, values schema, and the
// rendered CRDs, RBAC, admission policies, security contexts, NetworkPolicies and second value set.
import { expect } from "chai";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isScalar, parseDocument, type YAMLMap } from "yaml";
import {
  AGENT,
  CHART,
  CONTROLLER,
  CRD_FILES,
  type JsonSchema,
  NAMESPACE,
  chartForSuite,
  RELEASE,
  type Rule,
  succeeded,
  VALUE_SETS,
} from "../support/chart.ts";
import {
  fileObjects,
  find,
  flags,
  type Manifest,
  manifests,
  onlyContainer,
  podSpec,
} from "../support/chart-manifests.ts";
import { expectRestrictedDeployment } from "../support/chart-expect.ts";
import { REPO_ROOT } from "../support/samples.ts";

describe("Helm chart charts/trustgate: rendering (real helm)", function () {
  this.timeout(120_000);
  const { chart, helm, template, objectsOf } = chartForSuite();

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
          const args = ["lint", CHART, "--kube-version", chart().k8sVersion, ...strict];
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

    it("renders the guests' ValidatingAdmissionPolicy of files/admission/ unchanged but for its name and labels", async function () {
      const [policy, binding] = await fileObjects("files/admission/guest-status-restriction.yaml");
      const name = `${RELEASE}-guest-restriction`;
      const objects = objectsOf("default");
      const renderedPolicy = find(objects, "ValidatingAdmissionPolicy", name);
      // Guests' ServiceAccounts are named after their CVMs ("<cvm>-guest"), not after the release: the
      // file's spec, match condition included, is the chart's.
      expect(renderedPolicy["spec"]).to.deep.equal(policy?.["spec"]);
      const renderedBinding = find(objects, "ValidatingAdmissionPolicyBinding", name);
      expect(renderedBinding["spec"]).to.deep.equal({ ...(binding?.["spec"] as object), policyName: name });
      for (const obj of [renderedPolicy, renderedBinding]) {
        expect(obj.metadata.labels, `${obj.kind} labels`).to.include({
          "app.kubernetes.io/instance": RELEASE,
          "app.kubernetes.io/part-of": "trustgate",
          "app.kubernetes.io/component": "guest",
        });
      }
      // Every value set renders exactly the agent's and the guests' policy, each with its binding.
      for (const set of Object.keys(VALUE_SETS)) {
        const prefix = set === "monitoring" ? "tg" : RELEASE; // ci/monitoring-values.yaml: fullnameOverride tg
        for (const kind of ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]) {
          const names = objectsOf(set)
            .filter((o) => o.kind === kind)
            .map((o) => o.metadata.name)
            .sort();
          expect(names, `${kind}s (${set})`).to.deep.equal([
            `${prefix}-agent-node-restriction`,
            `${prefix}-guest-restriction`,
          ]);
        }
      }
    });

    it("runs the controller non-root with a read-only root filesystem, leader election, probes and limits", function () {
      const deployment = find(objectsOf("default"), "Deployment", CONTROLLER);
      expectRestrictedDeployment(deployment, CONTROLLER, "controller");
      const container = onlyContainer(deployment);
      expect(Object.fromEntries(flags(container.args ?? []))).to.deep.equal({
        "leader-elect": true,
        "leader-election-namespace": NAMESPACE,
        "leader-election-id": CONTROLLER,
        "metrics-bind-address": ":8080",
        "host-stale-after": "15m",
        resync: "10m",
        workers: "8",
        // The collateral services and cache (chart-collateral.test.ts checks their values).
        "intel-pcs-url": "https://api.trustedservices.intel.com",
        "intel-pcs-update": "standard",
        "amd-kds-url": "https://kdsintf.amd.com",
        "collateral-cache-dir": "/var/cache/trustgate/collateral",
        "rim-cache-dir": "/var/cache/trustgate/collateral/rims",
        "collateral-deadline": "30s",
        "collateral-stale-grace": "24h",
      });
      expect(container.env).to.deep.include.members([
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "NODE_OPTIONS", value: "--max-old-space-size=256 --max-semi-space-size=2" },
        { name: "MALLOC_ARENA_MAX", value: "2" },
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
        "metrics-bind-address": ":8080",
        "cc-mode-source": "auto",
      });
      expect(spec.initContainers, "no privileged probe unless asked for").to.equal(undefined);
      const hostPaths = Object.fromEntries(
        (spec.volumes ?? []).map((v) => [v.name, `${v.hostPath?.path ?? "?"} ${v.hostPath?.type ?? ""}`]),
      );
      expect(hostPaths).to.deep.equal({
        "host-sys": "/sys Directory",
        "host-proc": "/proc Directory",
        "host-config": "/etc/trustgate DirectoryOrCreate",
        "host-pod-resources": "/var/lib/kubelet/pod-resources Directory",
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
        "host-pod-resources": "/host/var/lib/kubelet/pod-resources ro",
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

    it("adds the cc-probe init container only on request: CAP_SYS_ADMIN, the host's /sys read-write, the state directory; the agent reads it read-only", function () {
      const daemonSet = find(objectsOf("ccProbe"), "DaemonSet", AGENT);
      const spec = podSpec(daemonSet);
      const [probe, ...more] = spec.initContainers ?? [];
      expect(more).to.deep.equal([]);
      expect(probe?.image).to.equal(`registry.example.com/trustgate-cc-probe@sha256:${"c0".repeat(32)}`);
      expect(probe?.args).to.deep.equal([
        "cc-probe",
        "--host-root=/",
        "--state-file=/run/trustgate/cc-probe.json",
        "--tool=/opt/gpu-admin-tools/bin/python3 -m nvidia_gpu_tools",
        "--tool-timeout=60s",
      ]);
      expect(probe?.securityContext).to.deep.equal({
        runAsUser: 0,
        privileged: false,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: true,
        capabilities: { drop: ["ALL"], add: ["SYS_ADMIN"] },
        seccompProfile: { type: "RuntimeDefault" },
        appArmorProfile: { type: "Unconfined" },
      });
      expect(probe?.volumeMounts).to.deep.equal([
        { name: "host-sys-rw", mountPath: "/sys" },
        { name: "cc-probe-state", mountPath: "/run/trustgate" },
      ]);
      const agent = onlyContainer(daemonSet);
      expect(agent.securityContext?.capabilities).to.deep.equal({ drop: ["ALL"] });
      expect(agent.volumeMounts).to.deep.include({
        name: "cc-probe-state",
        mountPath: "/host/run/trustgate",
        readOnly: true,
      });
      expect(Object.fromEntries(flags(agent.args ?? []))).to.deep.include({
        "cc-mode-source": "probe-file",
        "cc-probe-file": "/run/trustgate/cc-probe.json",
        "cc-probe-max-age": "12h",
      });
      expect(
        spec.volumes?.filter((v) => v.name === "host-sys-rw" || v.name === "cc-probe-state"),
      ).to.deep.equal([
        { name: "host-sys-rw", hostPath: { path: "/sys", type: "Directory" } },
        { name: "cc-probe-state", hostPath: { path: "/run/trustgate", type: "DirectoryOrCreate" } },
      ]);
    });

    it("limits the controller's network to the API server, DNS, the attestation services and metrics scrapes (the agent's to the first two)", function () {
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
        ["TCP/443"],
      ]);
      expect(policy.egress[2]?.to, "the attestation services: any address unless cidrs say where").to.equal(
        undefined,
      );
      const agent = find(objectsOf("default"), "NetworkPolicy", AGENT)["spec"] as Record<string, unknown>;
      expect(
        agent["ingress"],
        "only its metrics port may be reached (scrapes, the kubelet's probes)",
      ).to.deep.equal([{ ports: [{ protocol: "TCP", port: 8080 }] }]);
      expect(agent["policyTypes"]).to.deep.equal(["Ingress", "Egress"]);

      const pinned = find(objectsOf("network"), "NetworkPolicy", CONTROLLER)["spec"] as typeof policy;
      expect(pinned.egress[0]?.to).to.deep.equal([
        { ipBlock: { cidr: "10.0.0.1/32" } },
        { ipBlock: { cidr: "192.168.10.0/24" } },
      ]);
      expect(pinned.ingress[0]?.from).to.deep.equal([
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
      ]);
      expect(pinned.egress[2]?.to).to.deep.equal([{ ipBlock: { cidr: "203.0.113.0/24" } }]);
      expect(pinned.egress).to.have.length(4);
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
      expect(monitorSpec.endpoints).to.have.length(1);
      expect(monitorSpec.endpoints[0]).to.include({
        port: "metrics",
        path: "/metrics",
        scheme: "http",
        interval: "15s",
        scrapeTimeout: "5s",
        honorLabels: true,
      });
      expect(objects.map((o) => o.kind)).to.not.include.members([
        "NetworkPolicy",
        "CustomResourceDefinition",
      ]);
      expect(objectsOf("default").map((o) => o.kind)).to.not.include("ServiceMonitor");
    });
  });
});
