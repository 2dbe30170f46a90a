/**
 * How one HTTP exchange reaches a server: by default the global `fetch` (undici), so that `NODE_EXTRA_CA_CERTS`,
 * `--use-system-ca` and `NODE_USE_ENV_PROXY=1` / `--use-env-proxy` with `HTTPS_PROXY` / `NO_PROXY` apply; with an
 * explicit CA bundle (a PCCS with its own CA), node:https with `ca`, whose agent keeps the process's proxy setting.
 * Neither follows redirects nor reads the body: the caller decides both (size cap, https-only redirects).
 *
 * Node's env proxy (NODE_USE_ENV_PROXY): fetch since 24.0 (and 22.21), node:http/https and `Agent({ proxyEnv })`
 * since 24.5 (and 22.21). Only the global agents take it from the environment; an agent of one's own must be given
 * `proxyEnv` (tested: attestation-service-network.test.ts).
 */
import { X509Certificate } from "node:crypto";
import { Agent, globalAgent, request } from "node:https";
import type { IncomingHttpHeaders, ProxyEnv } from "node:http";
import { parsePemCertificates } from "../crypto/pem.ts";

export interface TransportRequest {
  method: "GET" | "POST";
  url: URL;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Aborts the exchange, the body included. */
  signal: AbortSignal;
}

export interface TransportResponse {
  status: number;
  headers: Headers;
  /** The body as it arrives: read it (read-body.ts) or `discard` it. */
  body: AsyncIterable<Uint8Array>;
  /** Stops the transfer of a body that will not be read. */
  discard(): void;
}

export type HttpTransport = (request: TransportRequest) => Promise<TransportResponse>;

const NO_BODY: AsyncIterable<Uint8Array> = {
  [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }),
};

/** Exchanges through `fetch` (the global one unless given, e.g. a fake in tests); redirects come back as answers. */
export function fetchTransport(fetchImpl: typeof globalThis.fetch = globalThis.fetch): HttpTransport {
  return async (req) => {
    const response = await fetchImpl(req.url, {
      method: req.method,
      headers: req.headers,
      redirect: "manual",
      signal: req.signal,
      ...(req.body === undefined ? {} : { body: req.body }),
    });
    const stream = response.body;
    return {
      status: response.status,
      headers: response.headers,
      body: stream ?? NO_BODY,
      discard: () => {
        if (stream !== null) void stream.cancel().catch(() => undefined);
      },
    };
  };
}

export interface HttpsTransportOptions {
  /** CA certificates (PEM) trusted instead of the system's and NODE_EXTRA_CA_CERTS'. */
  caPem: string;
  /**
   * Proxy settings (`HTTPS_PROXY`, `NO_PROXY`, ...). Default: the process's, i.e. `process.env` when Node runs with
   * `NODE_USE_ENV_PROXY=1` or `--use-env-proxy` (what its global agent uses), none otherwise. `null`: no proxy.
   */
  proxyEnv?: ProxyEnv | null;
}

function headersOf(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value === "string") headers.set(name, value);
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
  }
  return headers;
}

/** The proxy settings Node's own https agent was built with: process.env under NODE_USE_ENV_PROXY, else none. */
export function processProxyEnv(): ProxyEnv | undefined {
  return globalAgent.options.proxyEnv;
}

/**
 * Exchanges over node:https trusting only `caPem`. A custom agent does not inherit the env proxy in Node 24 (only
 * the global agent does), so it is given the process's `proxyEnv` explicitly: CONNECT to the proxy, then TLS to the
 * server verified against `caPem`.
 */
export function httpsTransport(options: HttpsTransportOptions): HttpTransport {
  // Node takes a `ca` without a certificate in it silently, and then trusts nothing: say so now instead.
  const certificates = parsePemCertificates(options.caPem, "the CA bundle", {
    ignoreTextOutsideBlocks: true,
  });
  if (certificates.length === 0) throw new Error("the CA bundle holds no PEM certificate");
  certificates.forEach((der, index) => {
    try {
      new X509Certificate(der);
    } catch {
      throw new Error(`certificate ${index + 1} of the CA bundle is not an X.509 certificate`);
    }
  });
  const proxyEnv = options.proxyEnv === undefined ? processProxyEnv() : options.proxyEnv;
  const agent = new Agent({
    ca: options.caPem,
    keepAlive: true,
    minVersion: "TLSv1.2",
    ...(proxyEnv === null || proxyEnv === undefined ? {} : { proxyEnv }),
  });
  return (req) =>
    new Promise((resolve, reject) => {
      const outgoing = request(
        req.url,
        { method: req.method, headers: req.headers, agent, signal: req.signal },
        (res) => {
          // Errors after this point surface where the body is read; this keeps an unread body from crashing.
          res.on("error", () => undefined);
          resolve({
            status: res.statusCode ?? 0,
            headers: headersOf(res.headers),
            body: res,
            discard: () => res.destroy(),
          });
        },
      );
      outgoing.on("error", reject);
      outgoing.end(req.body === undefined ? undefined : Buffer.from(req.body));
    });
}
