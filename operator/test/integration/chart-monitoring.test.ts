// The chart's monitoring: metrics Services and ServiceMonitors of the controller and webhook, the PrometheusRule
// (guarded by the Prometheus Operator's API) and the Grafana dashboard ConfigMap, rendered with the real helm.
// Every alert expression and dashboard query is checked with checkPromql (a small PromQL check, not promtool) and
// may name only series of operator/src/runtime/exported-series.ts, which exported-series.test.ts proves exported.
import { expect } from "chai";
import {
  AGENT,
  CONTROLLER,
  NAMESPACE,
  RELEASE,
  chartForSuite,
  renderNotes,
  succeeded,
  WEBHOOK,
} from "../support/chart.ts";
import { find, type Manifest, manifests } from "../support/chart-manifests.ts";
import { checkPromql } from "../support/promql.ts";
import { queryableSeries } from "../../src/runtime/exported-series.ts";

interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

const RULE_API = ["--api-versions", "monitoring.coreos.com/v1/PrometheusRule"];

function rulesOf(objects: Manifest[]): AlertRule[] {
  const rule = objects.find((o) => o.kind === "PrometheusRule");
  if (rule === undefined) throw new Error("no PrometheusRule rendered");
  return (rule["spec"] as { groups: { rules: AlertRule[] }[] }).groups.flatMap((g) => g.rules);
}

/** The expression passes the PromQL check and names only exported series. */
function expectQueryable(expr: string, where: string): string[] {
  const check = checkPromql(expr);
  expect(check.problems, `${where}: ${expr}`).to.deep.equal([]);
  const exported = queryableSeries();
  expect(
    check.metrics.filter((m) => !exported.has(m)),
    `${where} names series nobody exports: ${expr}`,
  ).to.deep.equal([]);
  expect(check.metrics, `${where} selects some series`).to.not.be.empty;
  return check.metrics;
}

describe("Helm chart charts/trustgate: monitoring (real helm)", function () {
  this.timeout(120_000);
  const { chart, template, objectsOf } = chartForSuite();
  const render = async (extra: string[]): Promise<Manifest[]> =>
    manifests(succeeded(await template(extra), `helm template ${extra.join(" ")}`));

  it("gives the webhook and the agent a metrics Service and, with the controller's, a ServiceMonitor with relabelings and honorLabels", function () {
    const objects = objectsOf("monitoring");
    for (const component of ["tg-controller", "tg-webhook", "tg-agent"]) {
      const service = find(objects, "Service", `${component}-metrics`);
      expect((service["spec"] as { ports: unknown[] }).ports).to.deep.equal([
        { name: "metrics", port: 9090, targetPort: "metrics", protocol: "TCP" },
      ]);
      const monitor = find(objects, "ServiceMonitor", component);
      const spec = monitor["spec"] as {
        selector: { matchLabels: Record<string, string> };
        endpoints: unknown[];
      };
      expect(service.metadata.labels).to.include(spec.selector.matchLabels);
      expect(spec.endpoints).to.deep.equal([
        {
          port: "metrics",
          path: "/metrics",
          scheme: "http",
          interval: "15s",
          scrapeTimeout: "5s",
          honorLabels: true,
          relabelings: [{ targetLabel: "cluster", replacement: "gpu-east" }],
          metricRelabelings: [{ sourceLabels: ["__name__"], regex: "nodejs_.*", action: "drop" }],
        },
      ]);
    }
    // The webhook's own Service (443) has no port named metrics, so its ServiceMonitor scrapes only the metrics one.
    const webhookService = find(objects, "Service", "tg-webhook")["spec"] as { ports: { name: string }[] };
    expect(webhookService.ports.map((p) => p.name)).to.deep.equal(["https"]);
    expect(find(objectsOf("default"), "Service", `${WEBHOOK}-metrics`).kind).to.equal("Service");
    expect(find(objectsOf("default"), "Service", `${AGENT}-metrics`).kind).to.equal("Service");
  });

  it("gives the agent a metrics port, a liveness probe on its scan loop and a readiness probe on its first report", function () {
    for (const [set, port] of [
      ["default", 8080],
      ["monitoring", 8080],
    ] as const) {
      const daemonSet = find(objectsOf(set), "DaemonSet", set === "default" ? AGENT : "tg-agent");
      const container = (
        daemonSet["spec"] as {
          template: { spec: { containers: Record<string, unknown>[] } };
        }
      ).template.spec.containers[0] as {
        args: string[];
        ports: unknown[];
        livenessProbe: { httpGet: unknown };
        readinessProbe: { httpGet: unknown };
      };
      expect(container.args, set).to.include(`--metrics-bind-address=:${String(port)}`);
      expect(container.ports, set).to.deep.equal([{ name: "metrics", containerPort: port, protocol: "TCP" }]);
      expect(container.livenessProbe.httpGet).to.deep.equal({ path: "/healthz", port: "metrics" });
      expect(container.readinessProbe.httpGet).to.deep.equal({ path: "/readyz", port: "metrics" });
    }
  });

  it("renders the ServiceMonitors only when enabled and their API is served, or when forced; NOTES say when they were not", async function () {
    const monitors = (objects: Manifest[]) =>
      objects
        .filter((o) => o.kind === "ServiceMonitor")
        .map((o) => o.metadata.name)
        .sort();
    const all = [AGENT, CONTROLLER, WEBHOOK];
    const enabled = ["--set", "metrics.serviceMonitor.enabled=true"];
    const api = ["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"];
    expect(monitors(objectsOf("default")), "off by default").to.deep.equal([]);
    expect(monitors(await render(api)), "off by default, API or not").to.deep.equal([]);
    // A cluster without the Prometheus Operator: the install does not fail on an unknown kind.
    expect(monitors(await render(enabled)), "no API: guarded").to.deep.equal([]);
    expect(monitors(await render([...enabled, ...api]))).to.deep.equal(all);
    expect(monitors(await render([...enabled, "--set", "metrics.serviceMonitor.force=true"]))).to.deep.equal(
      all,
    );
    expect(monitors(await render([...enabled, ...api, "--set", "webhook.enabled=false"]))).to.deep.equal([
      AGENT,
      CONTROLLER,
    ]);
    const warning = "nothing scrapes trustgate's metrics Services";
    const guarded = await renderNotes(chart(), enabled);
    expect(guarded.notes, guarded.stderr).to.include(warning);
    expect((await renderNotes(chart(), [...enabled, ...api])).notes).to.not.include(warning);
    expect((await renderNotes(chart(), [])).notes).to.not.include(warning);
    // Enabled without the Services is a mistake whether or not the API is served.
    const noService = await template([...enabled, "--set", "metrics.service.enabled=false"]);
    expect(noService.code).to.not.equal(0);
    expect(noService.stderr).to.include("metrics.serviceMonitor.enabled needs metrics.service.enabled");
  });

  it("renders the PrometheusRule only when enabled and its API is served, or when forced; NOTES say when it was not", async function () {
    const kinds = (objects: Manifest[]) => objects.filter((o) => o.kind === "PrometheusRule").length;
    expect(kinds(objectsOf("default")), "off by default").to.equal(0);
    expect(kinds(await render(RULE_API)), "off by default, API or not").to.equal(0);
    expect(kinds(await render(["--set", "metrics.prometheusRule.enabled=true"])), "no API: guarded").to.equal(
      0,
    );
    expect(kinds(await render(["--set", "metrics.prometheusRule.enabled=true", ...RULE_API]))).to.equal(1);
    const forced = [
      "--set",
      "metrics.prometheusRule.enabled=true",
      "--set",
      "metrics.prometheusRule.force=true",
    ];
    expect(kinds(await render(forced))).to.equal(1);
    const warning = "the alerts were not created";
    const guarded = await renderNotes(chart(), ["--set", "metrics.prometheusRule.enabled=true"]);
    expect(guarded.notes, guarded.stderr).to.include(warning);
    const served = await renderNotes(chart(), ["--set", "metrics.prometheusRule.enabled=true", ...RULE_API]);
    expect(served.notes, served.stderr).to.include("trustgate").and.not.include(warning);
    expect((await renderNotes(chart(), [])).notes).to.not.include(warning);
    const noService = await template([...forced, "--set", "metrics.service.enabled=false"]);
    expect(noService.code).to.not.equal(0);
    expect(noService.stderr).to.include("metrics.prometheusRule.enabled needs metrics.service.enabled");
  });

  it("alerts on the webhook, the controller, CVMs, results, hosts and the certificate, with exported series only", async function () {
    const objects = await render([
      "--set",
      "metrics.prometheusRule.enabled=true",
      "--set",
      "metrics.prometheusRule.labels.release=prometheus",
      "--set",
      "metrics.prometheusRule.notAttestedFor=20m",
      "--set",
      "metrics.prometheusRule.certificateExpiresWithinDays=10",
      ...RULE_API,
    ]);
    const rule = objects.find((o) => o.kind === "PrometheusRule");
    expect(rule?.metadata.labels).to.include({ release: "prometheus" });
    expect(rule?.metadata.namespace).to.equal(NAMESPACE);
    const rules = rulesOf(objects);
    expect(rules.map((r) => r.alert)).to.deep.equal([
      "TrustgateWebhookDown",
      "TrustgateWebhookCertificateExpiring",
      "TrustgateControllerDown",
      "TrustgateControllerNotLeading",
      "TrustgateConfidentialVMsNotAttested",
      "TrustgateAttestationExpiring",
      "TrustgateHostNotValidated",
      "TrustgateHostReportStale",
      "TrustgateAgentDown",
    ]);
    const named: Record<string, string[]> = {};
    for (const r of rules) {
      named[r.alert] = expectQueryable(r.expr, r.alert);
      expect(["critical", "warning"], r.alert).to.include(r.labels.severity);
      expect(r.annotations.summary, r.alert).to.not.equal("");
      expect(r.for, r.alert).to.match(/^\d+[smh]$/);
      // Each selects the job of the Service the chart's ServiceMonitor scrapes.
      const job = /job="([^"]+)"/.exec(r.expr)?.[1];
      expect([`${CONTROLLER}-metrics`, `${WEBHOOK}-metrics`, `${AGENT}-metrics`], r.alert).to.include(job);
      expect(find(objects, "Service", job ?? "").kind).to.equal("Service");
    }
    expect(named["TrustgateWebhookDown"]).to.deep.equal(["up"]);
    expect(rules.find((r) => r.alert === "TrustgateWebhookDown")?.expr).to.include(
      `job="${WEBHOOK}-metrics"`,
    );
    expect(named["TrustgateControllerNotLeading"]).to.deep.equal(["trustgate_leader"]);
    expect(rules.find((r) => r.alert === "TrustgateAgentDown")?.expr).to.equal(
      `up{job="${AGENT}-metrics"} == 0`,
    );
    expect(rules.find((r) => r.alert === "TrustgateConfidentialVMsNotAttested")?.for).to.equal("20m");
    expect(rules.find((r) => r.alert === "TrustgateWebhookCertificateExpiring")?.expr).to.include(
      `< ${String(10 * 86400)}`,
    );
    // Annotations keep Prometheus' own templates (not consumed by helm).
    expect(rules.find((r) => r.alert === "TrustgateHostReportStale")?.annotations.description).to.include(
      "{{ $labels.node }}",
    );

    const withoutWebhook = rulesOf(
      await render([
        "--set",
        "metrics.prometheusRule.enabled=true",
        "--set",
        "webhook.enabled=false",
        ...RULE_API,
      ]),
    );
    expect(withoutWebhook.map((r) => r.alert)).to.not.include.members(["TrustgateWebhookDown"]);
    expect(withoutWebhook).to.have.length(7);
  });

  it("ships the Grafana dashboard in a ConfigMap the sidecar discovers, only when enabled; every query names exported series", async function () {
    expect(
      objectsOf("default").filter((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-dashboard")),
    ).to.be.empty;
    const configMap = find(objectsOf("monitoring"), "ConfigMap", "tg-dashboard");
    expect(configMap.metadata.labels).to.include({ grafana_dashboard: "1" });
    expect((configMap.metadata as { annotations?: Record<string, string> }).annotations).to.deep.equal({
      grafana_folder: "Confidential computing",
    });
    const dashboard = JSON.parse((configMap["data"] as Record<string, string>)["trustgate.json"] ?? "") as {
      uid: string;
      panels: Panel[];
    };
    expect(dashboard.uid).to.equal("trustgate-fleet");
    const panels = dashboard.panels.filter((p) => p.type !== "row");
    expect(panels.length).to.be.greaterThan(10);
    const used = new Set<string>();
    for (const panel of panels) {
      expect(panel.targets, panel.title).to.not.be.empty;
      for (const target of panel.targets ?? [])
        for (const name of expectQueryable(target.expr, `panel "${panel.title}"`)) used.add(name);
    }
    // The fleet view the issue asks for: hosts by reason, CVMs by phase, attestations and latency by stage,
    // results expiring, collateral freshness, webhook admissions.
    expect([...used]).to.include.members([
      "trustgate_confidentialhosts",
      "trustgate_host_report_age_seconds",
      "trustgate_confidentialvms",
      "trustgate_attestations_total",
      "trustgate_attestation_duration_seconds_bucket",
      "trustgate_attestation_expiry_timestamp_seconds",
      "trustgate_collateral_oldest_age_seconds",
      "trustgate_collateral_next_update_timestamp_seconds",
      "trustgate_webhook_admission_total",
      "trustgate_webhook_certificate_expiry_timestamp_seconds",
      "trustgate_agent_last_publish_timestamp_seconds",
      "trustgate_agent_check_failing",
    ]);
    const elsewhere = await render([
      "--set",
      "metrics.dashboard.enabled=true",
      "--set",
      "metrics.dashboard.namespace=monitoring",
    ]);
    expect(find(elsewhere, "ConfigMap", `${RELEASE}-dashboard`).metadata.namespace).to.equal("monitoring");
  });
});
