import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import { closeNow, listenOn } from "./listen.ts";

export const DEFAULT_METRICS_BIND_ADDRESS = ":8080";

/** One condition of /readyz (or /healthz), e.g. { name: "informers-synced", ready: () => synced }. */
export interface ReadinessCheck {
  name: string;
  /** A boolean, or a decision whose reason the probe's body names. */
  ready: () => boolean | { ok: boolean; reason: string };
}

/** A Prometheus registry as the server needs it (OperatorMetrics, AgentMetrics). */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsServerOptions {
  /** host:port; the default ":8080" listens on every interface, port 0 picks a free one. */
  address?: string;
  metrics: MetricsSource;
  readinessChecks?: readonly ReadinessCheck[];
  /** Conditions of /healthz beyond "the process answers" (the agent's scan loop); failing ones restart the pod. */
  livenessChecks?: readonly ReadinessCheck[];
  log: Logger;
}

export interface MetricsServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Serves /metrics (Prometheus text), /healthz (the process answers, liveness checks pass) and /readyz (all checks pass). */
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
      if (options.livenessChecks === undefined) {
        response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
        return;
      }
      answerChecks(response, "healthz", options.livenessChecks);
      return;
    case "/readyz":
      answerChecks(response, "readyz", options.readinessChecks ?? []);
      return;
    default:
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  }
}

function answerChecks(response: ServerResponse, probe: string, checks: readonly ReadinessCheck[]): void {
  const results = checks.map((check) => {
    const answer = check.ready();
    return { name: check.name, ...(typeof answer === "boolean" ? { ok: answer, reason: "" } : answer) };
  });
  const passed = results.every((result) => result.ok);
  const lines = results.map(
    (result) =>
      `[${result.ok ? "+" : "-"}]${result.name} ${result.ok ? "ok" : "failed"}${result.ok || result.reason === "" ? "" : `: ${result.reason}`}`,
  );
  lines.push(passed ? `${probe} check passed` : `${probe} check failed`);
  response.writeHead(passed ? 200 : 503, { "content-type": "text/plain" }).end(`${lines.join("\n")}\n`);
}
