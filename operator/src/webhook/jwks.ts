import { createHash } from "node:crypto";
import type { V1ConfigMap } from "@kubernetes/client-node";

/** The JWKS as served: the exact bytes and their ETag. */
export interface JwksDocument {
  body: string;
  etag: string;
}

export const JWKS_KEY = "jwks.json";
/** Clients may cache the JWKS this long; short, because keys rotate (the controller overlaps them by a day). */
export const JWKS_MAX_AGE_SECONDS = 60;

/**
 * The controller's published JWKS (ConfigMap trustgate-jwks, key jwks.json) as a document to serve, or an
 * error saying why it cannot be: only a JSON object with a "keys" array of public keys is served.
 */
export function jwksFromConfigMap(configMap: V1ConfigMap | undefined): JwksDocument | { error: string } {
  if (configMap === undefined) return { error: "the JWKS ConfigMap does not exist (yet)" };
  const text = configMap.data?.[JWKS_KEY];
  if (text === undefined) return { error: `the JWKS ConfigMap has no ${JWKS_KEY}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: `${JWKS_KEY} in the JWKS ConfigMap is not JSON` };
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return { error: `${JWKS_KEY} in the JWKS ConfigMap has no "keys" array` };
  if (keys.some((k) => typeof k !== "object" || k === null || "d" in k)) {
    return { error: `${JWKS_KEY} in the JWKS ConfigMap holds something other than public keys` };
  }
  const body = JSON.stringify({ keys });
  return { body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

/** Whether an If-None-Match header matches the document's ETag (weak comparison, "*" included). */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""))
    .some((tag) => tag === "*" || tag === etag);
}
