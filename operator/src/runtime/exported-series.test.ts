import { expect } from "chai";
import type { Registry } from "prom-client";
import { issueCertificate } from "../webhook/certs/x509.ts";
import { admissionMetrics, certificateExpiryMetric } from "../webhook/metrics.ts";
import { AttestationMetrics } from "./attestation-metrics.ts";
import { Controller } from "./controller.ts";
import {
  AGENT_SERIES,
  CONTROLLER_SERIES,
  HISTOGRAMS,
  queryableSeries,
  WEBHOOK_SERIES,
} from "./exported-series.ts";
import { AgentMetrics } from "../agent/agent-metrics.ts";
import { instrumentController, OperatorMetrics } from "./metrics.ts";
import { pino } from "pino";

/** The metric families (# TYPE lines) of a scrape that start with trustgate_. */
async function trustgateFamilies(registry: Registry): Promise<Map<string, string>> {
  const text = await registry.metrics();
  const families = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (trustgate_\w+) (\w+)$/gm))
    families.set(match[1] ?? "", match[2] ?? "");
  return families;
}

describe("exported series", () => {
  it("the controller's registry exports exactly CONTROLLER_SERIES, histograms where listed", async () => {
    // Wired as `trustgate controller` wires it.
    const metrics = new OperatorMetrics({ processMetrics: false });
    new AttestationMetrics(metrics.registry);
    instrumentController(
      new Controller(
        { name: "confidentialvm", reconcile: () => Promise.resolve({}) },
        { log: pino({ level: "silent" }) },
      ),
      metrics,
    );
    const families = await trustgateFamilies(metrics.registry);
    expect([...families.keys()].sort()).to.deep.equal([...CONTROLLER_SERIES].sort());
    for (const [name, type] of families)
      expect(type, name).to.equal(HISTOGRAMS.has(name) ? "histogram" : type);
    for (const name of HISTOGRAMS)
      if (families.has(name)) expect(families.get(name), name).to.equal("histogram");
  });

  it("the webhook's registry exports exactly WEBHOOK_SERIES, the certificate expiry once a certificate is served", async () => {
    // Wired as `trustgate webhook` wires it.
    const metrics = new OperatorMetrics({ processMetrics: false });
    const observer = admissionMetrics(metrics.registry);
    const recordExpiry = certificateExpiryMetric(metrics.registry);
    const notAfter = new Date("2027-03-01T12:00:00Z");
    recordExpiry(
      issueCertificate({
        commonName: "webhook",
        ca: false,
        notBefore: new Date("2026-01-01T00:00:00Z"),
        notAfter,
      }).certPem,
    );
    observer.observe("workloads", false, 403, 0.002);
    const families = await trustgateFamilies(metrics.registry);
    const ownSeries = [...families.keys()].filter((name) => !CONTROLLER_SERIES.includes(name as never));
    expect([...new Set([...ownSeries, "trustgate_build_info"])].sort()).to.deep.equal(
      [...WEBHOOK_SERIES].sort(),
    );
    const text = await metrics.metrics();
    expect(text).to.include(
      `trustgate_webhook_certificate_expiry_timestamp_seconds ${String(notAfter.getTime() / 1000)}`,
    );
    expect(text).to.include(
      'trustgate_webhook_admission_total{webhook="workloads",allowed="false",code="403"} 1',
    );
    expect(text).to.match(/^trustgate_build_info\{version="[^"]+"\} 1$/m);
  });

  it("the agent's registry exports exactly AGENT_SERIES, every check's gauge and write reason from the start", async () => {
    // Wired as `trustgate agent --metrics-bind-address` wires it.
    const metrics = new AgentMetrics({ processMetrics: false });
    let text = await metrics.metrics();
    expect(text).to.include('trustgate_agent_check_failing{check="gpus"} 0');
    expect(text).to.include('trustgate_agent_status_writes_total{reason="refresh"} 0');
    metrics.scanned(0.02, new Set(["gpus", "podResources", "a-new-source"]), 1_796_623_200_000);
    metrics.reportCurrent("initial", 1_796_623_201_000);
    metrics.reportCurrent("unchanged", 1_796_623_261_000);
    metrics.publishFailed();
    const families = await trustgateFamilies(metrics.registry);
    expect([...families.keys()].sort()).to.deep.equal([...AGENT_SERIES].sort());
    expect(families.get("trustgate_agent_scan_duration_seconds")).to.equal("histogram");
    text = await metrics.metrics();
    expect(text).to.include('trustgate_agent_check_failing{check="gpus"} 1');
    expect(text).to.include('trustgate_agent_check_failing{check="podResources"} 1');
    expect(text).to.include('trustgate_agent_check_failing{check="tdx"} 0');
    // An unknown source name does not become a label value of its own.
    expect(text).to.include('trustgate_agent_check_failing{check="other"} 1');
    expect(text).to.not.include("a-new-source");
    expect(text).to.include("trustgate_agent_last_scan_timestamp_seconds 1796623200");
    expect(text).to.include("trustgate_agent_last_publish_timestamp_seconds 1796623261");
    expect(text).to.include('trustgate_agent_status_writes_total{reason="initial"} 1');
    expect(text).to.include("trustgate_agent_publish_errors_total 1");
  });

  it("queryable names expand histograms into their samples and keep Prometheus' up", () => {
    const names = queryableSeries();
    expect(names.has("up")).to.equal(true);
    expect(names.has("trustgate_attestation_duration_seconds_bucket")).to.equal(true);
    expect(names.has("trustgate_attestation_duration_seconds")).to.equal(false);
    expect(names.has("trustgate_attestations_total")).to.equal(true);
  });
});
