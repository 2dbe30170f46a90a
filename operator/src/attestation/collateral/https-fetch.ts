/**
 * A GET-only `fetch` over node:https that trusts the given CA certificates (PEM) instead of the system's: for a PCCS
 * or a mirror with its own CA (`--collateral-ca-file`). Response headers are kept: Intel's issuer chains travel in
 * them. Errors name their cause (DNS, TLS, timeout).
 */
import type { IncomingMessage } from "node:http";
import { request } from "node:https";

/** The whole body of an HTTP message. */
export function readBody(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("end", () => {
      resolve(Buffer.concat(chunks));
    });
    res.on("error", reject);
  });
}

function headersOf(res: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (typeof value === "string") headers.set(name, value);
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
  }
  return headers;
}

export function httpsFetchTrusting(caPem: string): typeof globalThis.fetch {
  return (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    new Promise((resolve, reject) => {
      const target = new URL(input instanceof Request ? input.url : input);
      if (target.protocol !== "https:") {
        reject(new Error(`${target.href}: collateral is fetched over https only`));
        return;
      }
      const req = request(
        target,
        { method: "GET", ca: caPem, ...(init?.signal == null ? {} : { signal: init.signal }) },
        (res) => {
          readBody(res).then((bytes) => {
            const status = res.statusCode ?? 500;
            resolve(new Response(status === 204 ? null : bytes, { status, headers: headersOf(res) }));
          }, reject);
        },
      );
      req.on("error", (error: NodeJS.ErrnoException) => {
        reject(new Error(`${target.href}: ${error.code ?? ""} ${error.message}`.trim(), { cause: error }));
      });
      req.end();
    });
}
