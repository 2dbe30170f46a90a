import { expect } from "chai";
import { Registry } from "prom-client";
import type { ConfidentialHost, ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import {
  AttestationMetrics,
  attestationExpiries,
  boundedReason,
  hostCounts,
  hostReportAges,
} from "./attestation-metrics.ts";

const NOW = new Date("2026-01-01T00:10:00Z");

function host(name: string, validated?: { status: "True" | "False"; reason: string }, observedAt?: string) {
  return {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "ConfidentialHost",
    metadata: { name },
    status: {
      ...(observedAt === undefined ? {} : { observedAt }),
      conditions:
        validated === undefined
          ? []
          : [{ type: "Validated", ...validated, message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }],
    },
  } as unknown as ConfidentialHost;
}

function cvm(namespace: string, name: string, expiresAt?: string): ConfidentialVM {
  return {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "ConfidentialVM",
    metadata: { namespace, name },
    spec: { tee: "tdx" },
    status: expiresAt === undefined ? {} : { attestation: { expiresAt } },
  } as unknown as ConfidentialVM;
}

const HOSTS = [
  host("gpu-1", { status: "True", reason: "HostValid" }, "2026-01-01T00:09:00Z"),
  host("gpu-2", { status: "True", reason: "HostValid" }, "2026-01-01T00:08:30Z"),
  host("gpu-3", { status: "False", reason: "ReportStale" }, "2025-12-31T23:40:00Z"),
  host("gpu-4"),
];

describe("attestation metrics", () => {
  it("bounds reasons to code-constant identifiers; anything a host or guest could write becomes Other", () => {
    const cases: [string | undefined, string][] = [
      ["Affirming", "Affirming"],
      ["TcbOutOfDate", "TcbOutOfDate"],
      ["x".repeat(70), "Other"],
      ["Bad reason with spaces", "Other"],
      ['"}injected', "Other"],
      [undefined, "Other"],
      ["A".repeat(65), "Other"],
    ];
    for (const [reason, expected] of cases) expect(boundedReason(reason), String(reason)).to.equal(expected);
  });

  it("counts hosts by Validated status and reason; a host without the condition is unknown/NoReport", () => {
    expect(hostCounts(HOSTS)).to.have.deep.members([
      { validated: "true", reason: "HostValid", count: 2 },
      { validated: "false", reason: "ReportStale", count: 1 },
      { validated: "unknown", reason: "NoReport", count: 1 },
    ]);
  });

  it("reports each host's report age from observedAt, skipping hosts without a report", () => {
    expect(hostReportAges(HOSTS, NOW)).to.deep.equal([
      { node: "gpu-1", seconds: 60 },
      { node: "gpu-2", seconds: 90 },
      { node: "gpu-3", seconds: 1800 },
    ]);
  });

  it("reports each CVM's result expiry as a Unix time, skipping CVMs without a result or with a malformed time", () => {
    const cvms = [cvm("a", "one", "2026-01-01T01:00:00Z"), cvm("a", "two"), cvm("b", "three", "not a time")];
    expect(attestationExpiries(cvms)).to.deep.equal([
      { namespace: "a", name: "one", seconds: Date.parse("2026-01-01T01:00:00Z") / 1000 },
    ]);
  });

  it("exports appraisals, stage latencies, released secrets, rotations and the cached hosts and CVMs", async () => {
    const registry = new Registry();
    const metrics = new AttestationMetrics(registry, () => NOW);
    metrics.track({ hosts: () => HOSTS, cvms: () => [cvm("team", "llm", "2026-01-01T01:00:00Z")] });
    metrics.appraised("tdx", "affirming", "Affirming");
    metrics.appraised("snp", "contraindicated", "MeasurementMismatch");
    metrics.appraised("sgx", "bogus", "not bounded");
    metrics.stage("tdx", "verify", 0.3);
    metrics.stage("tdx", "evidence", 2);
    metrics.stage("tdx", "write", -1);
    metrics.secretsReleased(2);
    metrics.secretsReleased(0);
    metrics.signingKeyRotated();

    const text = await registry.metrics();
    expect(text).to.include(
      'trustgate_attestations_total{tee="tdx",verdict="affirming",reason="Affirming"} 1',
    );
    expect(text).to.include(
      'trustgate_attestations_total{tee="snp",verdict="contraindicated",reason="MeasurementMismatch"} 1',
    );
    expect(text).to.include('trustgate_attestations_total{tee="unknown",verdict="unknown",reason="Other"} 1');
    // Zero series before the first appraisal, so rate() works from the start.
    expect(text).to.include(
      'trustgate_attestations_total{tee="snp",verdict="affirming",reason="Affirming"} 0',
    );
    expect(text).to.include('trustgate_attestation_duration_seconds_count{tee="tdx",stage="verify"} 1');
    expect(text).to.include('trustgate_attestation_duration_seconds_sum{tee="tdx",stage="evidence"} 2');
    expect(text).not.to.include('stage="write"');
    expect(text).to.include("trustgate_secrets_released_total 2");
    expect(text).to.include("trustgate_signing_key_rotations_total 1");
    expect(text).to.include(
      `trustgate_attestation_expiry_timestamp_seconds{namespace="team",name="llm"} ${String(Date.parse("2026-01-01T01:00:00Z") / 1000)}`,
    );
    expect(text).to.include('trustgate_confidentialhosts{validated="true",reason="HostValid"} 2');
    expect(text).to.include('trustgate_confidentialhosts{validated="unknown",reason="NoReport"} 1');
    expect(text).to.include('trustgate_host_report_age_seconds{node="gpu-3"} 1800');
  });

  it("drops a deleted CVM's and host's series at the next scrape", async () => {
    const registry = new Registry();
    const metrics = new AttestationMetrics(registry, () => NOW);
    let cvms = [cvm("team", "llm", "2026-01-01T01:00:00Z")];
    let hosts = HOSTS;
    metrics.track({ hosts: () => hosts, cvms: () => cvms });
    expect(await registry.metrics()).to.include('name="llm"');
    cvms = [];
    hosts = [];
    const text = await registry.metrics();
    expect(text).not.to.include('name="llm"');
    expect(text).not.to.include('node="gpu-1"');
    expect(text).not.to.include('reason="HostValid"');
  });
});
