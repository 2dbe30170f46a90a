import { X509Certificate } from "node:crypto";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { AdmissionObserver } from "./server.ts";

/** Admission counts and latencies per webhook path, in the operator's metrics registry. */
export function admissionMetrics(registry: Registry): AdmissionObserver {
  const total = new Counter({
    name: "trustgate_webhook_admission_total",
    help: "Admission reviews answered, per webhook, decision and status code.",
    labelNames: ["webhook", "allowed", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "trustgate_webhook_admission_duration_seconds",
    help: "Time from request to answer of one admission review (body read included).",
    labelNames: ["webhook"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  return {
    observe(target, allowed, code, seconds) {
      total.inc({ webhook: target, allowed: String(allowed), code: String(code) });
      duration.observe({ webhook: target }, seconds);
    },
  };
}

/** trustgate_webhook_certificate_expiry_timestamp_seconds: notAfter of the serving certificate in use. */
export function certificateExpiryMetric(registry: Registry): (certificatePem: string) => void {
  const gauge = new Gauge({
    name: "trustgate_webhook_certificate_expiry_timestamp_seconds",
    help: "Unix time at which the webhook's serving certificate (the first in its chain) expires.",
    registers: [registry],
  });
  return (certificatePem) => {
    gauge.set(Date.parse(new X509Certificate(certificatePem).validTo) / 1000);
  };
}
