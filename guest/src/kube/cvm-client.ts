/**
 * The guest's whole Kubernetes API: read and watch its own ConfidentialVM, and server-side apply `status.evidence`
 * (field manager trustgate-guest). A small node:https client, TLS always verified against the configured CA; the
 * token file is re-read on every request because the controller renews the token.
 */
import { Agent, request, type AgentOptions, type RequestOptions } from "node:https";
import type { IncomingMessage } from "node:http";
import { apiErrorFromResponse } from "../../../operator/src/kube/rest-api-error.ts";
import { currentBearerToken, type KubeConnection } from "../../../operator/src/kube/rest-connection.ts";
import type { ConfidentialVM } from "../../../operator/src/api/v1alpha1/generated/types.ts";
import type { EvidenceBundle } from "../../../operator/src/attestation/types.ts";
import { readBody } from "../../../operator/src/http/read-body.ts";
import { VERSION } from "../../../operator/src/version.ts";
import { JsonLines } from "./json-lines.ts";

export const FIELD_MANAGER = "trustgate-guest";
const GROUP_VERSION = "trustgate.io/v1alpha1";
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
// The server ends each watch after this long; the guest then reads the object again (a poll at worst).
export const WATCH_SECONDS = 60;

export type WatchEvent =
  | { type: "ADDED" | "MODIFIED"; object: ConfidentialVM }
  | { type: "DELETED"; object: ConfidentialVM }
  | { type: "BOOKMARK"; object: { metadata: { resourceVersion?: string } } };

/** The watch's resourceVersion is too old (HTTP 410): read the object again and watch from there. */
export class WatchExpiredError extends Error {}

export interface CvmApi {
  get(): Promise<ConfidentialVM>;
  applyEvidence(evidence: EvidenceBundle): Promise<ConfidentialVM>;
  /** Streams events until the server ends the watch or `signal` aborts. */
  watch(resourceVersion: string, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void>;
  close(): void;
}

export class CvmClient implements CvmApi {
  readonly #connection: KubeConnection;
  readonly #namespace: string;
  readonly #name: string;
  readonly #agent: Agent;

  constructor(connection: KubeConnection, target: { namespace: string; name: string }) {
    this.#connection = connection;
    this.#namespace = target.namespace;
    this.#name = target.name;
    const tls: AgentOptions = {
      keepAlive: true,
      maxSockets: 2,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    };
    if (connection.ca !== undefined) tls.ca = connection.ca;
    if (connection.tlsServerName !== undefined) tls.servername = connection.tlsServerName;
    this.#agent = new Agent(tls);
  }

  get #collection(): string {
    return `/apis/${GROUP_VERSION}/namespaces/${encodeURIComponent(this.#namespace)}/confidentialvms`;
  }

  get #object(): string {
    return `${this.#collection}/${encodeURIComponent(this.#name)}`;
  }

  async get(): Promise<ConfidentialVM> {
    return (await this.#json("GET", this.#object)) as ConfidentialVM;
  }

  async applyEvidence(evidence: EvidenceBundle): Promise<ConfidentialVM> {
    const body = {
      apiVersion: GROUP_VERSION,
      kind: "ConfidentialVM",
      metadata: { name: this.#name, namespace: this.#namespace },
      status: { evidence },
    };
    const query = `fieldManager=${FIELD_MANAGER}&force=true`;
    // JSON is YAML, so the apply body needs no YAML encoder.
    return (await this.#json(
      "PATCH",
      `${this.#object}/status?${query}`,
      body,
      "application/apply-patch+yaml",
    )) as ConfidentialVM;
  }

  async watch(
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const query = new URLSearchParams({
      watch: "1",
      fieldSelector: `metadata.name=${this.#name}`,
      resourceVersion,
      allowWatchBookmarks: "true",
      timeoutSeconds: String(WATCH_SECONDS),
    });
    const path = `${this.#collection}?${query.toString()}`;
    const response = await this.#send("GET", path, undefined, undefined, signal, (WATCH_SECONDS + 30) * 1000);
    if (response.statusCode !== 200) {
      const text = await readText(response);
      throw apiErrorFromResponse(`GET ${path}`, response.statusCode ?? 0, response.statusMessage ?? "", text);
    }
    const lines = new JsonLines(MAX_RESPONSE_BYTES);
    for await (const chunk of response) {
      for (const event of lines.push(chunk as Buffer) as {
        type?: string;
        object?: Record<string, unknown>;
      }[]) {
        if (event.type === "ERROR") {
          const status = event.object ?? {};
          const message = typeof status["message"] === "string" ? status["message"] : "watch expired";
          if (status["code"] === 410) throw new WatchExpiredError(message);
          throw new Error(`watch error: ${JSON.stringify(status).slice(0, 300)}`);
        }
        onEvent(event as WatchEvent);
      }
    }
  }

  close(): void {
    this.#agent.destroy();
  }

  async #json(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const response = await this.#send(method, path, payload, contentType, undefined, REQUEST_TIMEOUT_MS);
    const text = await readText(response);
    const code = response.statusCode ?? 0;
    if (code < 200 || code > 299)
      throw apiErrorFromResponse(`${method} ${path}`, code, response.statusMessage ?? "", text);
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new Error(`${method} ${path}: the answer is not JSON`, { cause: error });
    }
  }

  async #send(
    method: string,
    path: string,
    payload: Buffer | undefined,
    contentType: string | undefined,
    signal: AbortSignal | undefined,
    idleTimeoutMs: number,
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": `trustgate-guest/${VERSION}`,
    };
    const { bearer } = this.#connection;
    if (bearer !== undefined) headers["authorization"] = `Bearer ${await currentBearerToken(bearer)}`;
    if (payload !== undefined) {
      headers["content-type"] = contentType ?? "application/json";
      headers["content-length"] = String(payload.length);
    }
    const url = `${this.#connection.server.replace(/\/+$/, "")}${path}`;
    const options: RequestOptions = { method, headers, agent: this.#agent, timeout: idleTimeoutMs };
    if (signal !== undefined) options.signal = signal;
    return new Promise((resolve, reject) => {
      const req = request(url, options, resolve);
      req.on("timeout", () => req.destroy(new Error(`no data for ${idleTimeoutMs} ms`)));
      req.on("error", (error) => {
        reject(new Error(`${method} ${url}: ${error.message}`, { cause: error }));
      });
      req.end(payload);
    });
  }
}

async function readText(response: IncomingMessage): Promise<string> {
  return (await readBody(response, { maxBytes: MAX_RESPONSE_BYTES })).toString("utf8");
}
