// The chart in real clusters: subchart globals, extra env, the agent's priority and own namespace,
// `helm template` without any flag, and what NOTES.txt tells the installer about prerequisites.
import { expect } from "chai";
import {
  AGENT,
  CHART,
  CONTROLLER,
  NAMESPACE,
  RELEASE,
  WEBHOOK,
  chartForSuite,
  renderNotes,
  succeeded,
} from "../support/chart.ts";
import { find, type Manifest, manifests, onlyContainer, podSpec } from "../support/chart-manifests.ts";
import { sharedControlPlane } from "../support/control-plane.ts";

describe("Helm chart charts/trustgate: values for real clusters (real helm)", function () {
  this.timeout(120_000);
  const { chart, helm, template } = chartForSuite();

  async function render(...sets: string[]): Promise<Manifest[]> {
    return manifests(
      succeeded(await template(sets.flatMap((s) => ["--set", s])), `helm template ${sets.join(" ")}`),
    );
  }

  it("renders with `helm template` and no flag at all (Helm's default Kubernetes version)", async function () {
    const out = succeeded(await helm(["template", CHART]), "helm template <chart>");
    const kinds = manifests(out).map((o) => o.kind);
    expect(kinds).to.include.members([
      "Deployment",
      "DaemonSet",
      "CustomResourceDefinition",
      "ValidatingAdmissionPolicy",
    ]);
  });

  it("checks the Kubernetes version only against a cluster's API list: an old one fails, the local API server passes", async function () {
    const old = await helm([
      "template",
      CHART,
      "-a",
      "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration",
    ]);
    expect(old.code, "a cluster without ValidatingAdmissionPolicy v1").to.not.equal(0);
    expect(old.stderr).to.include("trustgate needs Kubernetes 1.30 or later");
    const kubeconfig = (await sharedControlPlane()).kubeconfigPath;
    const live = await helm([
      "template",
      RELEASE,
      CHART,
      "-n",
      NAMESPACE,
      "--validate",
      "--kubeconfig",
      kubeconfig,
    ]);
    expect(live.stderr).to.not.include("needs Kubernetes 1.30");
    succeeded(live, "helm template --validate against the local API server");
  });

  it("accepts a parent chart's global values (subchart use)", async function () {
    const objects = await render("global.imageRegistry=registry.example.com", "global.storageClass=fast");
    expect(find(objects, "DaemonSet", AGENT)).to.not.equal(undefined);
  });

  it("appends extraEnv to each component's container after the chart's variables, and refuses a nameless one", async function () {
    const objects = await render(
      "controller.extraEnv[0].name=TZ",
      "controller.extraEnv[0].value=UTC",
      "webhook.extraEnv[0].name=WEBHOOK_NOTE",
      "webhook.extraEnv[0].value=w",
      "agent.extraEnv[0].name=AGENT_NOTE",
      "agent.extraEnv[0].valueFrom.fieldRef.fieldPath=status.hostIP",
    );
    const cases: [string, string, string][] = [
      ["Deployment", CONTROLLER, "TZ"],
      ["Deployment", WEBHOOK, "WEBHOOK_NOTE"],
      ["DaemonSet", AGENT, "AGENT_NOTE"],
    ];
    for (const [kind, name, variable] of cases) {
      const env = onlyContainer(find(objects, kind, name)).env ?? [];
      const names = env.map((e) => e.name);
      expect(names.at(-1), `${name}: extraEnv comes last`).to.equal(variable);
      expect(names, `${name}: the chart's own variables stay`).to.include("LOG_LEVEL");
    }
    const agentEnv = onlyContainer(find(objects, "DaemonSet", AGENT)).env ?? [];
    expect(agentEnv.at(-1)?.valueFrom?.fieldRef?.fieldPath).to.equal("status.hostIP");
    const nameless = await template(["--set", "controller.extraEnv[0].value=x"]);
    expect(nameless.code).to.not.equal(0);
    expect(nameless.stderr).to.match(/controller\/extraEnv\/0.*missing propert(y|ies) 'name'|'name'/);
  });

  it("gives the agent priorityClassName system-node-critical by default, and none when emptied", async function () {
    expect(podSpec(find(await render(), "DaemonSet", AGENT)).priorityClassName).to.equal(
      "system-node-critical",
    );
    expect(
      podSpec(find(await render("agent.priorityClassName="), "DaemonSet", AGENT)).priorityClassName,
    ).to.equal(undefined);
  });

  it("puts the agent's DaemonSet, ServiceAccount, NetworkPolicy and admission match in agent.namespace; the rest stays", async function () {
    const objects = await render(
      "agent.namespace=tg-agents",
      "agent.createNamespace=true",
      "networkPolicy.enabled=true",
    );
    const namespace = find(objects, "Namespace", "tg-agents");
    expect(namespace.metadata.labels?.["pod-security.kubernetes.io/enforce"]).to.equal("privileged");
    expect(find(objects, "DaemonSet", AGENT).metadata.namespace).to.equal("tg-agents");
    expect(find(objects, "ServiceAccount", AGENT).metadata.namespace).to.equal("tg-agents");
    expect(find(objects, "NetworkPolicy", AGENT).metadata.namespace).to.equal("tg-agents");
    const binding = find(objects, "ClusterRoleBinding", AGENT) as Manifest & {
      subjects: { namespace: string }[];
    };
    expect(binding.subjects.map((s) => s.namespace)).to.deep.equal(["tg-agents"]);
    // The node restriction must match the agent where it runs, or any agent could write any host's report.
    const policy = find(objects, "ValidatingAdmissionPolicy", `${AGENT}-node-restriction`) as Manifest & {
      spec: { matchConditions: { name: string; expression: string }[] };
    };
    const match = policy.spec.matchConditions.find((c) => c.name === "is-trustgate-agent");
    expect(match?.expression).to.equal(
      `request.userInfo.username == 'system:serviceaccount:tg-agents:${AGENT}'`,
    );
    for (const name of [CONTROLLER, WEBHOOK]) {
      expect(find(objects, "Deployment", name).metadata.namespace, name).to.equal(NAMESPACE);
    }
    // Without createNamespace the namespace is the admin's: nothing creates it.
    const own = await render("agent.namespace=tg-agents");
    expect(own.filter((o) => o.kind === "Namespace")).to.deep.equal([]);
    expect(find(own, "DaemonSet", AGENT).metadata.namespace).to.equal("tg-agents");
  });

  it("refuses agent.createNamespace without a namespace of its own", async function () {
    for (const sets of [
      ["agent.createNamespace=true"],
      ["agent.createNamespace=true", `agent.namespace=${NAMESPACE}`],
    ]) {
      const result = await template(sets.flatMap((s) => ["--set", s]));
      expect(result.code, sets.join(" ")).to.not.equal(0);
      expect(result.stderr).to.include("agent.createNamespace");
    }
    const bad = await template(["--set", "agent.namespace=Not_A_Namespace"]);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/agent\/namespace/);
  });

  it("webhook.mode audit: --mode=audit, side effects only off dry runs, Event rights from files/rbac/webhook-audit.yaml", async function () {
    const enforce = await render();
    expect(onlyContainer(find(enforce, "Deployment", WEBHOOK)).args).to.not.include("--mode=audit");
    expect(enforce.filter((o) => o.metadata.name === `${WEBHOOK}-audit`)).to.deep.equal([]);
    const audit = await render("webhook.mode=audit");
    expect(onlyContainer(find(audit, "Deployment", WEBHOOK)).args).to.include("--mode=audit");
    const configuration = find(audit, "ValidatingWebhookConfiguration", WEBHOOK) as Manifest & {
      webhooks: { sideEffects: string; failurePolicy: string }[];
    };
    // Audit is not failurePolicy Ignore: an unreachable webhook still refuses.
    expect(configuration.webhooks.map((w) => `${w.sideEffects}/${w.failurePolicy}`)).to.satisfy(
      (all: string[]) => all.every((v) => v === "NoneOnDryRun/Fail"),
    );
    const role = find(audit, "ClusterRole", `${WEBHOOK}-audit`) as Manifest & { rules: unknown[] };
    expect(role.rules).to.deep.equal([{ apiGroups: [""], resources: ["events"], verbs: ["create"] }]);
    const binding = find(audit, "ClusterRoleBinding", `${WEBHOOK}-audit`) as Manifest & {
      subjects: unknown[];
    };
    expect(binding.subjects).to.deep.equal([{ kind: "ServiceAccount", name: WEBHOOK, namespace: NAMESPACE }]);
    const bad = await template(["--set", "webhook.mode=warn"]);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/webhook\/mode/);
  });

  describe("NOTES.txt", function () {
    async function notes(...sets: string[]): Promise<string> {
      const result = await renderNotes(
        chart(),
        sets.flatMap((s) => ["--set", s]),
      );
      succeeded(result, "helm template of NOTES.txt");
      return result.notes;
    }

    it("warns about the prerequisites: KubeVirt and its feature gates, the image, the CVM image digest, egress", async function () {
      const text = await notes();
      expect(text).to.include("Prerequisites trustgate does not install");
      for (const needed of [
        "WorkloadEncryptionTDX",
        "WorkloadEncryptionSEV",
        "HostDevices",
        "permittedHostDevices.pciHostDevices",
        "confidentialCompute.tdx.attestation.enforced: true",
        "no image is published",
        "set image.digest",
        "pinned by digest",
        "Egress from the controller",
      ]) {
        expect(text, needed).to.include(needed);
      }
      const pinned = await notes(`image.digest=sha256:${"a".repeat(64)}`);
      expect(pinned).to.not.include("set image.digest");
    });

    it("tells how to check the installation and what helm uninstall will do", async function () {
      const text = await notes();
      expect(text).to.include(`helm test ${RELEASE} -n ${NAMESPACE}   (runs trustgate doctor)`);
      expect(text).to.include("ConfidentialVMs lose trustgate's finalizer (they and their VMs keep running)");
      const deleting = await notes("uninstall.confidentialVMs=delete", "tests.enabled=false");
      expect(deleting).to.include("(and are deleted with their VMs)");
      expect(deleting).to.not.include("helm test");
      expect(await notes("uninstall.enabled=false")).to.not.include("pre-delete hook");
    });

    it("warns that audit mode enforces nothing", async function () {
      expect(await notes()).to.not.include("webhook.mode=audit");
      expect(await notes("webhook.mode=audit")).to.include(
        "WARNING: webhook.mode=audit: nothing is enforced.",
      );
    });

    it("says which namespace needs Pod Security 'privileged' and how to keep the release namespace 'restricted'", async function () {
      const shared = await notes();
      expect(shared).to.include(
        `kubectl label namespace ${NAMESPACE} pod-security.kubernetes.io/enforce=privileged`,
      );
      expect(shared).to.include("agent.namespace and agent.createNamespace");
      const own = await notes("agent.namespace=tg-agents");
      expect(own).to.include(
        "kubectl label namespace tg-agents pod-security.kubernetes.io/enforce=privileged",
      );
      expect(own).to.not.include("agent.namespace and agent.createNamespace");
      const created = await notes("agent.namespace=tg-agents", "agent.createNamespace=true");
      expect(created).to.include(
        `The agent runs in namespace tg-agents, created with Pod Security level "privileged"`,
      );
    });
  });
});
