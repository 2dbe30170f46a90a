import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { Logger } from "pino";
import { BodyTooLargeError, readBody } from "../http/read-body.ts";
import { closeNow, listenOn } from "../runtime/listen.ts";
import { parseDuration } from "../runtime/duration.ts";
import { type AdmissionRequest, admissionResponse, parseAdmissionReview } from "./admission-review.ts";
import { applyWebhookMode, type WebhookMode } from "./audit.ts";
import type { KeyPairPem } from "./certs/x509.ts";
import { JWKS_MAX_AGE_SECONDS, type JwksDocument, notModified } from "./jwks.ts";
import { ADMISSION_PATHS, type AdmissionTarget, type AdmissionView, validateAdmission } from "./validate.ts";

export const DEFAULT_WEBHOOK_BIND_ADDRESS = ":9443";
export const JWKS_PATH = "/.well-known/jwks.json";
/** AdmissionReviews carry the object twice (object, oldObject); the API server caps objects at about 3 MiB. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** The API server's default webhook timeout, used when a request carries no ?timeout=. */
const DEFAULT_TIMEOUT_MS = 10_000;

export interface AdmissionObserver {
  observe(target: AdmissionTarget, allowed: boolean, code: number, seconds: number): void;
}

export interface WebhookServerOptions {
  /** host:port; ":9443" listens on every interface, port 0 picks a free one. */
  address?: string;
  certificate: KeyPairPem;
  view: AdmissionView;
  /** The JWKS to serve, or why there is none. */
  jwks: () => JwksDocument | { error: string };
  /** /readyz checks besides "serving" (e.g. caches synced). */
  readiness?: readonly { name: string; ready: () => boolean }[];
  log: Logger;
  now?: () => Date;
  observer?: AdmissionObserver;
  /** enforce (default), or audit: workload refusals are admitted with a warning and reported to onWouldRefuse. */
  mode?: WebhookMode;
  onWouldRefuse?: (request: AdmissionRequest, refusal: string) => void;
}

export interface WebhookServer {
  readonly port: number;
  /** Serves a new certificate from the next TLS handshake on; a bad pair is refused and the old one kept. */
  setCertificate(certificate: KeyPairPem): void;
  close(): Promise<void>;
}

const ROUTES = new Map<string, AdmissionTarget>(
  Object.entries(ADMISSION_PATHS).map(([target, path]) => [path, target as AdmissionTarget]),
);

/** The admission deadline: the API server's ?timeout= minus a margin for the way back. */
export function admissionDeadlineMs(timeoutParam: string | null): number {
  let timeout = DEFAULT_TIMEOUT_MS;
  if (timeoutParam !== null) {
    try {
      timeout = parseDuration(timeoutParam);
    } catch {
      // keep the default: the API server only sends valid durations
    }
  }
  return Math.max(Math.min(timeout, 30_000) - 250, 100);
}

function text(
  response: ServerResponse,
  code: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(code, { "content-type": "text/plain; charset=utf-8", ...headers }).end(`${body}\n`);
}

async function readRequestBody(request: IncomingMessage, deadlineMs: number): Promise<Buffer> {
  try {
    // Not destroyed when stopped early: the 413 or 504 still has to be answered on this connection.
    return await readBody(request.iterator({ destroyOnReturn: false }), {
      maxBytes: MAX_BODY_BYTES,
      signal: AbortSignal.timeout(deadlineMs),
    });
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      request.resume();
      throw new HttpError(413, `the request body exceeds ${MAX_BODY_BYTES} bytes`);
    }
    if (error instanceof DOMException && error.name === "TimeoutError")
      throw new HttpError(504, `the request body did not arrive within ${deadlineMs} ms`);
    throw error;
  }
}

class HttpError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

async function admit(
  target: AdmissionTarget,
  url: URL,
  request: IncomingMessage,
  response: ServerResponse,
  options: WebhookServerOptions,
): Promise<void> {
  const started = process.hrtime.bigint();
  if (request.method !== "POST") {
    text(response, 405, "admission reviews are POSTed", { allow: "POST" });
    return;
  }
  const contentType = request.headers["content-type"] ?? "";
  if (!contentType.includes("json")) {
    text(response, 415, `expected application/json, got ${contentType || "no content type"}`);
    return;
  }
  const body = await readRequestBody(request, admissionDeadlineMs(url.searchParams.get("timeout")));
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    text(response, 400, "the body is not JSON");
    return;
  }
  const parsed = parseAdmissionReview(json);
  if (!parsed.ok && parsed.uid === undefined) {
    text(response, 400, parsed.error);
    return;
  }
  const judged = parsed.ok
    ? applyWebhookMode(
        options.mode ?? "enforce",
        target,
        validateAdmission(target, parsed.request, options.view, options.now?.() ?? new Date()),
      )
    : {
        decision: {
          allowed: false,
          code: 400,
          message: `trustgate: malformed AdmissionReview: ${parsed.error}`,
        },
      };
  const decision = judged.decision;
  const uid = parsed.ok ? parsed.request.uid : (parsed.uid ?? "");
  response
    .writeHead(200, { "content-type": "application/json" })
    .end(JSON.stringify(admissionResponse(uid, decision)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  options.observer?.observe(
    target,
    decision.allowed,
    decision.allowed ? 200 : (decision.code ?? 403),
    seconds,
  );
  if (parsed.ok && judged.wouldRefuse !== undefined) {
    const req = parsed.request;
    options.log.info(
      {
        uid,
        kind: req.kind.kind,
        namespace: req.namespace,
        objectName: req.name,
        message: judged.wouldRefuse,
      },
      "Admitted in audit mode what enforce mode would deny",
    );
    options.onWouldRefuse?.(req, judged.wouldRefuse);
  }
  if (!decision.allowed) {
    const req = parsed.ok ? parsed.request : undefined;
    options.log.info(
      {
        uid,
        kind: req?.kind.kind,
        namespace: req?.namespace,
        // Not `name`: that is the logger's (the component's) own field.
        objectName: req?.name,
        code: decision.code,
        message: decision.message,
      },
      "Denied admission",
    );
  }
}

function serveJwks(request: IncomingMessage, response: ServerResponse, options: WebhookServerOptions): void {
  if (request.method !== "GET" && request.method !== "HEAD") {
    text(response, 405, "GET only", { allow: "GET, HEAD" });
    return;
  }
  const doc = options.jwks();
  if ("error" in doc) {
    text(response, 503, `no JWKS to serve: ${doc.error}`, { "retry-after": "5" });
    return;
  }
  const headers = {
    "cache-control": `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
    etag: doc.etag,
  };
  if (notModified(request.headers["if-none-match"], doc.etag)) {
    response.writeHead(304, headers).end();
    return;
  }
  response.writeHead(200, { ...headers, "content-type": "application/jwk-set+json" });
  response.end(request.method === "HEAD" ? undefined : doc.body);
}

function readyz(response: ServerResponse, options: WebhookServerOptions): void {
  const results = (options.readiness ?? []).map((check) => ({ name: check.name, ok: check.ready() }));
  const ready = results.every((r) => r.ok);
  const lines = [
    "[+]serving ok",
    ...results.map((r) => `[${r.ok ? "+" : "-"}]${r.name} ${r.ok ? "ok" : "failed"}`),
    ready ? "readyz check passed" : "readyz check failed",
  ];
  text(response, ready ? 200 : 503, lines.join("\n"));
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: WebhookServerOptions,
): Promise<void> {
  const url = new URL(request.url ?? "/", "https://localhost");
  const target = ROUTES.get(url.pathname);
  if (target !== undefined) {
    await admit(target, url, request, response, options);
    return;
  }
  switch (url.pathname) {
    case JWKS_PATH:
      serveJwks(request, response, options);
      return;
    case "/healthz":
      text(response, 200, "ok");
      return;
    case "/readyz":
      readyz(response, options);
      return;
    default:
      text(response, 404, "not found");
  }
}

/** The webhook's HTTPS server: admission paths, the JWKS, /healthz and /readyz. TLS only. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const tls = (c: KeyPairPem) => ({ cert: c.certPem, key: c.keyPem, minVersion: "TLSv1.2" as const });
  const server: Server = createServer(tls(options.certificate), (request, response) => {
    handle(request, response, options).catch((error: unknown) => {
      const code = error instanceof HttpError ? error.code : 500;
      if (code === 500) options.log.warn({ err: error, path: request.url }, "Webhook request failed");
      if (!response.headersSent) text(response, code, (error as Error).message);
      else response.end();
      if (code === 413 || code === 504) request.destroy();
    });
  });
  // The API server keeps connections open between reviews; no per-request header or idle timeouts below its own.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 60_000;
  const address = options.address ?? DEFAULT_WEBHOOK_BIND_ADDRESS;
  const bound = await listenOn(server, address, options.log, "admission webhook (HTTPS)");
  return {
    port: bound,
    setCertificate(certificate) {
      try {
        server.setSecureContext(tls(certificate));
        options.log.info("Loaded a new serving certificate");
      } catch (error) {
        options.log.error(
          { err: error },
          "Refused a serving certificate that does not load; keeping the old one",
        );
      }
    },
    close: () => closeNow(server),
  };
}
