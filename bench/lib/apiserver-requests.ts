// What the API server served, from its own /metrics: requests by verb and resource, and watch events sent by kind
// with their bytes. Benchmarks diff two snapshots to say what a run cost the control plane per object.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { httpsGet } from "../../hack/lib/https-get.ts";

export interface ApiserverCounts {
  /** "VERB resource/subresource" → requests. */
  requests: Map<string, number>;
  /** resource → watch events sent, and their total bytes. */
  watchEvents: Map<string, { events: number; bytes: number }>;
}

function label(line: string, name: string): string {
  return new RegExp(`${name}="([^"]*)"`).exec(line)?.[1] ?? "";
}

function value(line: string): number {
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

export function parseApiserverMetrics(text: string): ApiserverCounts {
  const requests = new Map<string, number>();
  const watchEvents = new Map<string, { events: number; bytes: number }>();
  const watch = (kind: string) => {
    let entry = watchEvents.get(kind);
    if (entry === undefined) watchEvents.set(kind, (entry = { events: 0, bytes: 0 }));
    return entry;
  };
  for (const line of text.split("\n")) {
    if (line.startsWith("apiserver_request_total{")) {
      const key = `${label(line, "verb")} ${label(line, "resource")}/${label(line, "subresource")}`;
      requests.set(key, (requests.get(key) ?? 0) + value(line));
    } else if (line.startsWith("apiserver_watch_events_total{")) {
      watch(label(line, "resource")).events += value(line);
    } else if (line.startsWith("apiserver_watch_events_sizes_sum{")) {
      watch(label(line, "resource")).bytes += value(line);
    }
  }
  return { requests, watchEvents };
}

/** The API server's counters now, read with the control plane's admin client certificate. */
export async function apiserverCounts(
  clusterDir: string,
  server: string,
  ca: string,
): Promise<ApiserverCounts> {
  const tls = {
    ca,
    cert: await readFile(join(clusterDir, "pki/admin.crt"), "utf8"),
    key: await readFile(join(clusterDir, "pki/admin.key"), "utf8"),
  };
  return parseApiserverMetrics((await httpsGet(`${server}/metrics`, tls)).body);
}

/** after − before, per object (e.g. per CVM), keeping entries of at least `min` per object. */
export function perObject(
  before: ApiserverCounts,
  after: ApiserverCounts,
  objects: number,
  min = 0.05,
): { requests: Record<string, number>; watchEvents: Record<string, { events: number; kib: number }> } {
  const requests: Record<string, number> = {};
  for (const [key, n] of after.requests) {
    const per = (n - (before.requests.get(key) ?? 0)) / objects;
    if (per >= min) requests[key] = Number(per.toFixed(2));
  }
  const watchEvents: Record<string, { events: number; kib: number }> = {};
  for (const [kind, entry] of after.watchEvents) {
    const was = before.watchEvents.get(kind) ?? { events: 0, bytes: 0 };
    const events = (entry.events - was.events) / objects;
    if (events >= min)
      watchEvents[kind] = {
        events: Number(events.toFixed(2)),
        kib: Number(((entry.bytes - was.bytes) / objects / 1024).toFixed(1)),
      };
  }
  return { requests, watchEvents };
}
