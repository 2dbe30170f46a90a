import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import { closeNow, listenOn } from "./listen.ts";
import type { OperatorMetrics } from "./metrics.ts";

export const DEFAULT_METRICS_BIND_ADDRESS = ":8080";

/** One condition of /readyz, e.g. { name: "informers-synced", ready: () => synced }. */
export interface ReadinessCheck {
  name: string;
  ready: () => boolean;
}

export interface MetricsServerOptions {
  /** host:port; the default ":8080" listens on every interface, port 0 picks a free one. */
  address?: string;
  metrics: OperatorMetrics;
  readinessChecks?: readonly ReadinessCheck[];
  log: Logger;
}

export interface MetricsServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Serves /metrics (Prometheus text), /healthz (the process answers) and /readyz (all checks pass). */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    handle(request, response, options).catch((error: unknown) => {
      options.log.warn({ err: error, path: request.url }, "Metrics request failed");
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  const address = options.address ?? DEFAULT_METRICS_BIND_ADDRESS;
  return { port: await listenOn(server, address, options.log, "metrics"), close: () => closeNow(server) };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: MetricsServerOptions,
): Promise<void> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  switch (path) {
    case "/metrics": {
      const body = await options.metrics.metrics();
      response.writeHead(200, { "content-type": options.metrics.contentType }).end(body);
      return;
    }
    case "/healthz":
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    case "/readyz": {
      const results = (options.readinessChecks ?? []).map((check) => ({
        name: check.name,
        ok: check.ready(),
      }));
      const ready = results.every((result) => result.ok);
      const lines = results.map(
        (result) => `[${result.ok ? "+" : "-"}]${result.name} ${result.ok ? "ok" : "failed"}`,
      );
      lines.push(ready ? "readyz check passed" : "readyz check failed");
      response.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(`${lines.join("\n")}\n`);
      return;
    }
    default:
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  }
}
