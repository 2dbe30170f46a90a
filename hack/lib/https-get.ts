import { request } from "node:https";

export interface HttpsGetOptions {
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  /** Client certificate and key (PEM) for mutual TLS. */
  cert?: string;
  key?: string;
  /** Sent as "Authorization: Bearer <token>". */
  token?: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export interface HttpsResponse {
  status: number;
  body: string;
}

/** A single GET without connection reuse, so polling leaves no idle sockets behind. */
export function httpsGet(url: string, options: HttpsGetOptions): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`;
    const req = request(
      url,
      {
        method: "GET",
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        headers,
        agent: false,
        timeout: options.timeoutMs ?? 5_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}
