import { Agent, request, type AgentOptions } from "node:https";
import { readBody } from "../http/read-body.ts";
import { VERSION } from "../version.ts";
import { apiErrorFromResponse } from "./rest-api-error.ts";
import { currentBearerToken, type KubeConnection } from "./rest-connection.ts";

/** The JSON calls the agent makes on the API server. */
export interface KubeJsonApi {
  get(path: string): Promise<unknown>;
  post(path: string, body: unknown): Promise<unknown>;
  /** PATCH with `application/merge-patch+json` (RFC 7386). */
  mergePatch(path: string, body: unknown): Promise<unknown>;
}

export interface KubeRestClientOptions {
  /** Whole request, from connecting to the last byte of the answer (default 30 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
// The agent's requests come in bursts (read, patch, retries) a minute apart: keep sockets for a
// burst, not across intervals, where the server may already be closing them.
const IDLE_SOCKET_MS = 15_000;
// Far above any ConfidentialHost; only guards the agent's memory against a misbehaving server.
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

interface RawResponse {
  code: number;
  statusText: string;
  text: string;
}

/** A small JSON client over node:https with keep-alive; verifies the server certificate, always. */
export class KubeRestClient implements KubeJsonApi {
  readonly #connection: KubeConnection;
  readonly #base: string;
  readonly #agent: Agent;
  readonly #timeoutMs: number;

  constructor(connection: KubeConnection, options: KubeRestClientOptions = {}) {
    this.#connection = connection;
    this.#base = connection.server.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const tls: AgentOptions = {
      keepAlive: true,
      maxSockets: 2,
      timeout: IDLE_SOCKET_MS,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    };
    if (connection.ca !== undefined) tls.ca = connection.ca;
    if (connection.tlsServerName !== undefined) tls.servername = connection.tlsServerName;
    if (connection.clientCertificate !== undefined) {
      tls.cert = connection.clientCertificate.cert;
      tls.key = connection.clientCertificate.key;
    }
    this.#agent = new Agent(tls);
  }

  get(path: string): Promise<unknown> {
    return this.#json("GET", path);
  }

  post(path: string, body: unknown): Promise<unknown> {
    return this.#json("POST", path, body, "application/json");
  }

  mergePatch(path: string, body: unknown): Promise<unknown> {
    return this.#json("PATCH", path, body, "application/merge-patch+json");
  }

  /** Closes idle connections so that the process can exit. */
  close(): void {
    this.#agent.destroy();
  }

  async #json(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    const what = `${method} ${path}`;
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": `trustgate-agent/${VERSION}`,
    };
    const { bearer } = this.#connection;
    if (bearer !== undefined) headers["authorization"] = `Bearer ${await currentBearerToken(bearer)}`;
    let payload: Buffer | undefined;
    if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers["content-type"] = contentType ?? "application/json";
      headers["content-length"] = String(payload.length);
    }
    const response = await this.#send(method, path, headers, payload);
    if (response.code < 200 || response.code > 299)
      throw apiErrorFromResponse(what, response.code, response.statusText, response.text);
    try {
      return JSON.parse(response.text) as unknown;
    } catch (error) {
      throw new Error(`${what}: the answer is not JSON`, { cause: error });
    }
  }

  #send(
    method: string,
    path: string,
    headers: Record<string, string>,
    payload: Buffer | undefined,
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(deadline);
        reject(new Error(`${method} ${this.#base}${path}: ${error.message}`, { cause: error }));
      };
      const req = request(`${this.#base}${path}`, { method, headers, agent: this.#agent }, (res) => {
        readBody(res, { maxBytes: MAX_RESPONSE_BYTES }).then((body) => {
          clearTimeout(deadline);
          resolve({
            code: res.statusCode ?? 0,
            statusText: res.statusMessage ?? "",
            text: body.toString("utf8"),
          });
        }, fail);
      });
      const deadline = setTimeout(() => {
        req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      req.on("error", fail);
      req.end(payload);
    });
  }
}
