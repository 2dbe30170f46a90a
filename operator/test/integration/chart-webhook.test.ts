// The admission webhook's part of the Helm chart charts/trustgate, rendered with the real helm binary:
// Deployment, PDB, Service, ValidatingWebhookConfiguration, RBAC (self-managed or cert-manager), NetworkPolicy.
import { expect } from "chai";
import { NAMESPACE, chartForSuite, type Rule, succeeded, WEBHOOK } from "../support/chart.ts";
import * as rendered from "../support/chart-manifests.ts";
import { expectRestrictedDeployment } from "../support/chart-expect.ts";

describe("Helm chart charts/trustgate: the admission webhook's objects (real helm)", function () {
  this.timeout(120_000);
  const { template, objectsOf } = chartForSuite();

  describe("the chart on its own", function () {
    it("renders the webhook: 2 replicas, non-root, read-only root filesystem, probes, PDB, Service, self-managed certificates", function () {
      const objects = objectsOf("default");
      const deployment = rendered.find(objects, "Deployment", WEBHOOK);
      expectRestrictedDeployment(deployment, WEBHOOK, "webhook");
      const container = rendered.onlyContainer(deployment);
      expect(Object.fromEntries(rendered.flags(container.args ?? []))).to.deep.equal({
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
      const pdb = rendered.find(objects, "PodDisruptionBudget", WEBHOOK)["spec"] as {
        minAvailable: number;
        selector: { matchLabels: object };
      };
      expect(pdb.minAvailable).to.equal(1);
      expect(podLabels).to.include(pdb.selector.matchLabels);
      const service = rendered.find(objects, "Service", WEBHOOK)["spec"] as {
        selector: object;
        ports: unknown[];
      };
      expect(podLabels).to.include(service.selector);
      expect(service.ports).to.deep.equal([
        { name: "https", port: 443, targetPort: "webhook", protocol: "TCP" },
      ]);
    });

    it("renders a fail-closed ValidatingWebhookConfiguration that skips kube-system and the release namespace", function () {
      const config = rendered.find(
        objectsOf("default"),
        "ValidatingWebhookConfiguration",
        WEBHOOK,
      ) as unknown as {
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
      expect(pods?.rules[0]?.operations).to.deep.equal(["CREATE", "UPDATE"]);
      expect(pods?.rules[0]?.resources).to.deep.equal(["pods", "pods/ephemeralcontainers"]);
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
      const source = await rendered.fileObjects("files/rbac/webhook.yaml");
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
      const rules = (obj: rendered.Manifest): Rule[] => obj["rules"] as Rule[];
      expect(rules(rendered.find(objects, "ClusterRole", WEBHOOK))).to.deep.equal(renamed("ClusterRole"));
      expect(rules(rendered.find(objects, "Role", WEBHOOK))).to.deep.equal(renamed("Role"));
      expect(rendered.find(objects, "Role", WEBHOOK).metadata.namespace).to.equal(NAMESPACE);
      for (const kind of ["ClusterRoleBinding", "RoleBinding"]) {
        expect(rendered.find(objects, kind, WEBHOOK)["subjects"]).to.deep.equal([
          { kind: "ServiceAccount", name: WEBHOOK, namespace: NAMESPACE },
        ]);
      }

      // With cert-manager: an Issuer and a Certificate, the CA injected, files instead of the Secret API.
      const certManager = rendered.manifests(
        succeeded(
          await template(["--set", "webhook.certManager.enabled=true"]),
          "helm template (cert-manager)",
        ),
      );
      const resources = (obj: rendered.Manifest): string[] => rules(obj).flatMap((r) => r.resources ?? []);
      expect(resources(rendered.find(certManager, "ClusterRole", WEBHOOK))).to.not.include(
        "validatingwebhookconfigurations",
      );
      expect(resources(rendered.find(certManager, "Role", WEBHOOK))).to.deep.equal(["configmaps"]);
      expect(rendered.find(certManager, "ValidatingWebhookConfiguration", WEBHOOK).metadata).to.deep.include({
        annotations: { "cert-manager.io/inject-ca-from": `${NAMESPACE}/${WEBHOOK}` },
      });
      expect(rendered.find(certManager, "Issuer", `${WEBHOOK}-selfsigned`)["spec"]).to.deep.equal({
        selfSigned: {},
      });
      expect(rendered.find(certManager, "Certificate", WEBHOOK)["spec"]).to.deep.include({
        secretName: `${WEBHOOK}-tls`,
        dnsNames: [`${WEBHOOK}.${NAMESPACE}.svc`, `${WEBHOOK}.${NAMESPACE}.svc.cluster.local`],
        privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
        issuerRef: { group: "cert-manager.io", kind: "Issuer", name: `${WEBHOOK}-selfsigned` },
      });
      const deployment = rendered.find(certManager, "Deployment", WEBHOOK);
      const args = rendered.flags(rendered.onlyContainer(deployment).args ?? []);
      expect(args.get("cert-dir")).to.equal("/var/run/trustgate/tls");
      expect(args.has("cert-secret") || args.has("webhook-configuration")).to.equal(false);
      expect(rendered.podSpec(deployment).volumes).to.deep.equal([
        { name: "tls", secret: { secretName: `${WEBHOOK}-tls` } },
      ]);
      const ownIssuer = rendered.manifests(
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
      expect(rendered.find(ownIssuer, "Certificate", WEBHOOK)["spec"]).to.deep.include({
        issuerRef: { name: "corp-ca", kind: "ClusterIssuer" },
      });
      const off = rendered.manifests(
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
      const policy = rendered.find(objectsOf("default"), "NetworkPolicy", WEBHOOK)["spec"] as Policy;
      expect(policy.policyTypes).to.deep.equal(["Ingress", "Egress"]);
      expect(policy.ingress).to.deep.equal([
        { ports: [{ protocol: "TCP", port: 9443 }] },
        { ports: [{ protocol: "TCP", port: 8080 }] },
      ]);
      expect(policy.egress).to.have.length(2);
      const pinned = rendered.find(objectsOf("network"), "NetworkPolicy", WEBHOOK)["spec"] as Policy;
      expect(pinned.ingress[1]?.from, "scrapes as for the controller").to.deep.equal([
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
      ]);
    });
  });
});
