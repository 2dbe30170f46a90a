import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ConfidentialHost, ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import { CONDITION_VALIDATED, REASON_NO_REPORT } from "../api/v1alpha1/confidential-host-conditions.ts";

/** Stages of one handshake: issuing the challenge, the guest's answer, verification, sealing + status write. */
export type AttestationStage = "challenge" | "evidence" | "verify" | "write";

/** What the attestation handshake reports (an optional dep of the controller, no global state). */
export interface AttestationObserver {
  /** One appraisal: `reason` is the Attested reason (Affirming, AffirmingWithWarnings or the first violation code). */
  appraised(tee: string, verdict: string, reason: string): void;
  stage(tee: string, stage: AttestationStage, seconds: number): void;
  secretsReleased(count: number): void;
}

/** Condition reasons and violation codes are code constants; anything else is folded so labels stay bounded. */
export function boundedReason(reason: string | undefined): string {
  return reason !== undefined && /^[A-Z][A-Za-z0-9]{0,63}$/.test(reason) ? reason : "Other";
}

function boundedTee(tee: string | undefined): string {
  return tee === "tdx" || tee === "snp" ? tee : "unknown";
}

export interface HostCount {
  validated: "true" | "false" | "unknown";
  reason: string;
  count: number;
}

/** ConfidentialHosts per Validated status and reason. */
export function hostCounts(hosts: readonly ConfidentialHost[]): HostCount[] {
  const counts = new Map<string, HostCount>();
  for (const host of hosts) {
    const validated = host.status?.conditions?.find((c) => c.type === CONDITION_VALIDATED);
    const status =
      validated?.status === "True" ? "true" : validated?.status === "False" ? "false" : "unknown";
    const reason = boundedReason(validated?.reason ?? REASON_NO_REPORT);
    const key = `${status}/${reason}`;
    const entry = counts.get(key) ?? { validated: status, reason, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  return [...counts.values()];
}

/** Seconds since each host's agent last scanned it (status.observedAt); hosts without a report are left out. */
export function hostReportAges(
  hosts: readonly ConfidentialHost[],
  now: Date,
): { node: string; seconds: number }[] {
  return hosts.flatMap((host) => {
    const observed = Date.parse(host.status?.observedAt ?? "");
    if (Number.isNaN(observed)) return [];
    return [{ node: host.metadata.name ?? "", seconds: Math.max(0, (now.getTime() - observed) / 1000) }];
  });
}

/** Each CVM's attestation result expiry (status.attestation.expiresAt) as a Unix time. */
export function attestationExpiries(
  cvms: readonly ConfidentialVM[],
): { namespace: string; name: string; seconds: number }[] {
  return cvms.flatMap((cvm) => {
    const expires = Date.parse(cvm.status?.attestation?.expiresAt ?? "");
    if (Number.isNaN(expires)) return [];
    return [
      { namespace: cvm.metadata.namespace ?? "", name: cvm.metadata.name ?? "", seconds: expires / 1000 },
    ];
  });
}

/** The series of what trustgate exists to do: attestations, hosts, released secrets, signing keys. */
export class AttestationMetrics implements AttestationObserver {
  private readonly total: Counter<"tee" | "verdict" | "reason">;
  private readonly duration: Histogram<"tee" | "stage">;
  private readonly secrets: Counter;
  private readonly rotations: Counter;
  private hosts: () => readonly ConfidentialHost[] = () => [];
  private cvms: () => readonly ConfidentialVM[] = () => [];

  constructor(registry: Registry, now: () => Date = () => new Date()) {
    const registers = [registry];
    this.total = new Counter({
      name: "trustgate_attestations_total",
      help: "Appraisals of guest evidence per TEE, verdict and Attested reason.",
      labelNames: ["tee", "verdict", "reason"],
      registers,
    });
    this.duration = new Histogram({
      name: "trustgate_attestation_duration_seconds",
      help: "Time per handshake stage: challenge (issue), evidence (guest answer), verify, write (seal secrets + status).",
      labelNames: ["tee", "stage"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.secrets = new Counter({
      name: "trustgate_secrets_released_total",
      help: "Secrets sealed to an attested guest key and released in a ConfidentialVM's status.",
      registers,
    });
    this.rotations = new Counter({
      name: "trustgate_signing_key_rotations_total",
      help: "New result-signing keys this process created (first key included).",
      registers,
    });
    const self = (): AttestationMetrics => this;
    new Gauge({
      name: "trustgate_attestation_expiry_timestamp_seconds",
      help: "Unix time at which a ConfidentialVM's attestation result expires.",
      labelNames: ["namespace", "name"],
      registers,
      collect() {
        this.reset();
        for (const e of attestationExpiries(self().cvms()))
          this.set({ namespace: e.namespace, name: e.name }, e.seconds);
      },
    });
    new Gauge({
      name: "trustgate_confidentialhosts",
      help: "ConfidentialHosts per Validated status (true, false, unknown) and reason.",
      labelNames: ["validated", "reason"],
      registers,
      collect() {
        this.reset();
        for (const c of hostCounts(self().hosts()))
          this.set({ validated: c.validated, reason: c.reason }, c.count);
      },
    });
    new Gauge({
      name: "trustgate_host_report_age_seconds",
      help: "Seconds since a node's agent last published its host report (status.observedAt).",
      labelNames: ["node"],
      registers,
      collect() {
        this.reset();
        for (const a of hostReportAges(self().hosts(), now())) this.set({ node: a.node }, a.seconds);
      },
    });
    for (const verdict of ["affirming", "warning", "contraindicated"])
      for (const tee of ["tdx", "snp"]) this.total.inc({ tee, verdict, reason: zeroReason(verdict) }, 0);
    this.secrets.inc(0);
    this.rotations.inc(0);
  }

  /** Reads the caches at scrape time. */
  track(sources: { hosts: () => readonly ConfidentialHost[]; cvms: () => readonly ConfidentialVM[] }): void {
    this.hosts = sources.hosts;
    this.cvms = sources.cvms;
  }

  appraised(tee: string, verdict: string, reason: string): void {
    const known = verdict === "affirming" || verdict === "warning" || verdict === "contraindicated";
    this.total.inc({
      tee: boundedTee(tee),
      verdict: known ? verdict : "unknown",
      reason: boundedReason(reason),
    });
  }

  stage(tee: string, stage: AttestationStage, seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0)
      this.duration.observe({ tee: boundedTee(tee), stage }, seconds);
  }

  secretsReleased(count: number): void {
    if (count > 0) this.secrets.inc(count);
  }

  signingKeyRotated(): void {
    this.rotations.inc();
  }
}

function zeroReason(verdict: string): string {
  return verdict === "affirming"
    ? "Affirming"
    : verdict === "warning"
      ? "AffirmingWithWarnings"
      : "Contraindicated";
}
