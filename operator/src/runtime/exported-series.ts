/**
 * Every trustgate_* metric family the controller, webhook and agent export, in one place: exported-series.test.ts proves
 * each appears in a scrape, and the chart's alert rules and dashboard may name only these (plus the histogram
 * suffixes _bucket, _sum and _count) and `up`.
 */
export const CONTROLLER_SERIES = [
  "trustgate_build_info",
  "trustgate_reconcile_total",
  "trustgate_reconcile_errors_total",
  "trustgate_reconcile_duration_seconds",
  "trustgate_workqueue_depth",
  "trustgate_workqueue_adds_total",
  "trustgate_workqueue_retries_total",
  "trustgate_workqueue_queue_duration_seconds",
  "trustgate_leader",
  "trustgate_confidentialvms",
  "trustgate_tcb_drift_soon_confidentialvms",
  "trustgate_kubevirt_ready",
  "trustgate_collateral_cache_lookups_total",
  "trustgate_collateral_requests_total",
  "trustgate_collateral_request_duration_seconds",
  "trustgate_collateral_oldest_age_seconds",
  "trustgate_collateral_next_update_timestamp_seconds",
  "trustgate_collateral_cached_items",
  "trustgate_attestations_total",
  "trustgate_attestation_duration_seconds",
  "trustgate_attestation_expiry_timestamp_seconds",
  "trustgate_confidentialhosts",
  "trustgate_host_report_age_seconds",
  "trustgate_secrets_released_total",
  "trustgate_signing_key_rotations_total",
] as const;

export const WEBHOOK_SERIES = [
  "trustgate_build_info",
  "trustgate_webhook_admission_total",
  "trustgate_webhook_admission_duration_seconds",
  "trustgate_webhook_certificate_expiry_timestamp_seconds",
] as const;

/** The node agent's (trustgate agent --metrics-bind-address; the chart's agent metrics Service). */
export const AGENT_SERIES = [
  "trustgate_build_info",
  "trustgate_agent_scan_duration_seconds",
  "trustgate_agent_last_scan_timestamp_seconds",
  "trustgate_agent_last_publish_timestamp_seconds",
  "trustgate_agent_check_failing",
  "trustgate_agent_publish_errors_total",
  "trustgate_agent_status_writes_total",
] as const;

/** Series Prometheus itself adds to every scrape target. */
export const SCRAPE_SERIES = ["up"] as const;

/** Histogram families: their samples are `<name>_bucket`, `<name>_sum` and `<name>_count`. */
export const HISTOGRAMS = new Set<string>([
  "trustgate_reconcile_duration_seconds",
  "trustgate_workqueue_queue_duration_seconds",
  "trustgate_collateral_request_duration_seconds",
  "trustgate_attestation_duration_seconds",
  "trustgate_webhook_admission_duration_seconds",
  "trustgate_agent_scan_duration_seconds",
]);

/** Every sample name a query may use: families, histogram samples, and Prometheus' own. */
export function queryableSeries(): Set<string> {
  const names = new Set<string>(SCRAPE_SERIES);
  for (const family of [...CONTROLLER_SERIES, ...WEBHOOK_SERIES, ...AGENT_SERIES]) {
    if (HISTOGRAMS.has(family))
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(family + suffix);
    else names.add(family);
  }
  return names;
}
