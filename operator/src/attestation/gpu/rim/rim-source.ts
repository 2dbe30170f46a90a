/**
 * Where RIMs come from when the bundle carries none: an offline directory, NVIDIA's RIM service
 * (`GET <url>/v1/rim/<id>`), each behind a cache. Sources are untrusted: every RIM is verified after it is fetched.
 * `get` resolves undefined when the source does not have the RIM and throws RimUnavailable when it cannot answer.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { EvidenceError } from "../../types.ts";
import { BoundedMap } from "../../bounded-map.ts";
import {
  AttestationServiceError,
  createAttestationServiceClient,
  type AttestationServiceClient,
  type RequestObserver,
} from "../../collateral/attestation-service-client.ts";
import { MAX_RIM_LENGTH } from "./rim.ts";

export interface RimSource {
  get(id: string): Promise<string | undefined>;
}

export const RIM_ID = /^NV_[A-Z0-9_.]{1,120}$/i;

function unavailable(message: string, cause?: unknown): EvidenceError {
  return new EvidenceError("RimUnavailable", message, cause === undefined ? {} : { cause });
}

/** The file for `id`: `<id>`, `<id>.xml`, `<id>.swidtag`, or `<id>_<anything>` (NVIDIA's sample names). */
export function rimFileMatches(file: string, id: string): boolean {
  if (!file.startsWith(id)) return false;
  const rest = file.slice(id.length);
  return rest === "" || rest === ".xml" || rest === ".swidtag" || rest.startsWith("_");
}

/** RIM files in `dir` (not recursive), looked up by ID in the file name. */
export function directoryRimSource(dir: string): RimSource {
  let files: Promise<string[]> | undefined;
  return {
    async get(id) {
      if (!RIM_ID.test(id)) return undefined;
      files ??= readdir(dir).catch((error: unknown) => {
        throw unavailable(`RIM directory ${dir} cannot be read: ${(error as Error).message}`, error);
      });
      const matches = (await files).filter((f) => rimFileMatches(f, id)).sort();
      const exact = matches.find((f) => !f.slice(id.length).startsWith("_")) ?? matches[0];
      return exact === undefined ? undefined : readFile(join(dir, exact), "utf8");
    },
  };
}

export interface RimServiceOptions {
  /** https base URL, e.g. NVIDIA's RIM service. */
  url: string;
  /** Default: a client of its own over the global fetch. */
  client?: AttestationServiceClient;
  onRequest?: RequestObserver;
  /** Per attempt (default the client's, 10 s). */
  timeoutMs?: number;
}

// A RIM of MAX_RIM_LENGTH characters, base64 in the service's JSON, with room for the other fields.
const MAX_RIM_ANSWER_BYTES = Math.ceil((MAX_RIM_LENGTH * 4) / 3) + 64 * 1024;

/** NVIDIA's RIM service: JSON `{ id, rim: <base64 XML>, sha256, ... }` (a bare XML body is accepted too). */
export function rimServiceSource(options: RimServiceOptions): RimSource {
  const base = new URL(options.url);
  if (base.protocol !== "https:") throw new Error(`RIM service URL ${options.url} is not https`);
  const client = options.client ?? createAttestationServiceClient();
  return {
    async get(id) {
      if (!RIM_ID.test(id)) return undefined;
      const url = new URL(
        `v1/rim/${encodeURIComponent(id)}`,
        base.href.endsWith("/") ? base : `${base.href}/`,
      );
      let response;
      try {
        response = await client.get(url, {
          service: "nvidia-rim",
          maxBytes: MAX_RIM_ANSWER_BYTES,
          timeoutMs: options.timeoutMs,
          onRequest: options.onRequest,
        });
      } catch (error) {
        // The RIM verdict's own code; the message already names the service, URL and cause.
        if (error instanceof AttestationServiceError) throw unavailable(error.message);
        throw error;
      }
      if (response === undefined) return undefined;
      const body = Buffer.from(response.body).toString("utf8");
      if (body.trimStart().startsWith("<")) return body;
      try {
        const parsed = JSON.parse(body) as { rim?: unknown };
        if (typeof parsed.rim !== "string") throw new Error("no rim field");
        return Buffer.from(parsed.rim, "base64").toString("utf8");
      } catch (error) {
        throw unavailable(
          `NVIDIA RIM service ${url.href}: not a RIM: neither XML nor JSON with a rim field (${(error as Error).message})`,
          error,
        );
      }
    },
  };
}

/** Asks each source in turn; the first that has the RIM wins. A failing source does not hide a later one. */
export function firstRimSource(sources: readonly RimSource[]): RimSource {
  return {
    async get(id) {
      let failure: Error | undefined;
      for (const source of sources) {
        try {
          const text = await source.get(id);
          if (text !== undefined) return text;
        } catch (error) {
          failure ??= error instanceof Error ? error : new Error(String(error));
        }
      }
      if (failure !== undefined) throw failure;
      return undefined;
    },
  };
}

/** Keeps fetched RIM texts for `ttlMs` (RIMs are immutable per ID; their signatures are re-checked anyway). */
export function cachingRimSource(
  inner: RimSource,
  options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {},
): RimSource {
  const ttl = options.ttlMs ?? 24 * 3600_000;
  const clock = options.now ?? Date.now;
  const cache = new BoundedMap<string, { text: string; at: number }>(options.maxEntries ?? 512);
  return {
    async get(id) {
      const hit = cache.get(id);
      if (hit !== undefined && clock() - hit.at < ttl) return hit.text;
      const text = await inner.get(id);
      if (text !== undefined) cache.set(id, { text, at: clock() });
      return text;
    },
  };
}
