/**
 * Where RIMs come from when the bundle carries none: an offline directory, NVIDIA's RIM service
 * (`GET <url>/v1/rim/<id>`), each behind a cache. Sources are untrusted: every RIM is verified after it is fetched.
 * `get` resolves undefined when the source does not have the RIM and throws RimUnavailable when it cannot answer.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { EvidenceError } from "../../types.ts";
import { BoundedMap } from "../../bounded-map.ts";
import { MAX_RIM_LENGTH } from "./rim.ts";

export interface RimSource {
  get(id: string): Promise<string | undefined>;
}

const RIM_ID = /^NV_[A-Z0-9_.]{1,120}$/i;

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
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** NVIDIA's RIM service: JSON `{ id, rim: <base64 XML>, sha256, ... }` (a bare XML body is accepted too). */
export function rimServiceSource(options: RimServiceOptions): RimSource {
  const base = new URL(options.url);
  if (base.protocol !== "https:") throw new Error(`RIM service URL ${options.url} is not https`);
  const doFetch = options.fetch ?? fetch;
  return {
    async get(id) {
      if (!RIM_ID.test(id)) return undefined;
      const url = new URL(
        `v1/rim/${encodeURIComponent(id)}`,
        base.href.endsWith("/") ? base : `${base.href}/`,
      );
      let response: Response;
      try {
        response = await doFetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
      } catch (error) {
        throw unavailable(`RIM service ${url.host}: ${(error as Error).message}`, error);
      }
      if (response.status === 404) return undefined;
      if (!response.ok) throw unavailable(`RIM service ${url.host} answered ${response.status} for ${id}`);
      const body = await response.text();
      if (body.length > 2 * MAX_RIM_LENGTH) throw unavailable(`RIM service ${url.host}: ${id} is too large`);
      if (body.trimStart().startsWith("<")) return body;
      try {
        const parsed = JSON.parse(body) as { rim?: unknown };
        if (typeof parsed.rim !== "string") throw new Error("no rim field");
        return Buffer.from(parsed.rim, "base64").toString("utf8");
      } catch (error) {
        throw unavailable(
          `RIM service ${url.host}: ${id}: unexpected answer (${(error as Error).message})`,
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
