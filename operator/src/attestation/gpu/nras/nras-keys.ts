/**
 * NRAS signing keys: a JWKS from a file or an https URL (NRAS serves it at /.well-known/jwks.json), cached, looked
 * up by kid. Only EC P-384 keys for ES384 are used. A key that carries an x5c chain must chain to a pinned root as
 * of the verification time (a root that arrives in x5c is never trusted) and the chain's leaf must hold that key.
 */
import { createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { EvidenceError } from "../../types.ts";
import {
  createAttestationServiceClient,
  type AttestationServiceClient,
  type RequestObserver,
} from "../../collateral/attestation-service-client.ts";
import { checkValidity } from "../device-chain.ts";
import { commonName } from "../rim/signer-chain.ts";

const MAX_JWKS_BYTES = 262_144;
const MAX_X5C = 8;

interface Jwk {
  kid?: unknown;
  kty?: unknown;
  crv?: unknown;
  alg?: unknown;
  use?: unknown;
  x5c?: unknown;
}

export interface NrasKeySource {
  /** The verification key for `kid` as of `now`; throws SignatureInvalid (unknown kid), ChainInvalid, ... */
  keyFor(kid: string | undefined, now: Date): Promise<KeyObject>;
}

function invalid(message: string): EvidenceError {
  return new EvidenceError("SignatureInvalid", `NRAS JWKS: ${message}`);
}

function keysOf(document: unknown, source: string): Jwk[] {
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys))
    throw new EvidenceError("EvidenceMalformed", `NRAS JWKS ${source} has no keys array`);
  return keys.filter((k): k is Jwk => typeof k === "object" && k !== null);
}

function chainInvalid(message: string): EvidenceError {
  return new EvidenceError("ChainInvalid", `NRAS signing key x5c: ${message}`);
}

function checkX5c(x5c: unknown, key: KeyObject, roots: readonly X509Certificate[], now: Date): void {
  if (
    !Array.isArray(x5c) ||
    x5c.length === 0 ||
    x5c.length > MAX_X5C ||
    !x5c.every((c) => typeof c === "string")
  )
    throw chainInvalid("not a list of base64 certificates");
  let certs: X509Certificate[];
  try {
    certs = x5c.map((c) => new X509Certificate(Buffer.from(c, "base64")));
  } catch {
    throw chainInvalid("holds something that is not an X.509 certificate");
  }
  const [leaf] = certs;
  if (leaf === undefined || !leaf.publicKey.equals(key))
    throw chainInvalid("its first certificate does not hold the key");
  const path = [leaf];
  for (let current = leaf; ; ) {
    const root = roots.find((r) => current.checkIssued(r) && current.verify(r.publicKey));
    if (root !== undefined) {
      path.push(root);
      break;
    }
    const next = certs.find(
      (c) => !path.includes(c) && !c.checkIssued(c) && current.checkIssued(c) && current.verify(c.publicKey),
    );
    if (next === undefined)
      throw chainInvalid(`no pinned root or certificate in x5c signs ${commonName(current.subject)}`);
    path.push(next);
    current = next;
  }
  checkValidity(path, now);
}

/** A key source over JWKS documents returned by `load` (called again when a kid is unknown, at most every `minReloadMs`). */
export function jwksKeySource(
  load: () => Promise<unknown>,
  options: {
    source: string;
    roots: readonly string[];
    ttlMs?: number;
    minReloadMs?: number;
    clock?: () => number;
  },
): NrasKeySource {
  const roots = options.roots.map((pem) => new X509Certificate(pem));
  const clock = options.clock ?? Date.now;
  let loaded: { keys: Jwk[]; at: number } | undefined;
  async function keys(forceReload: boolean): Promise<Jwk[]> {
    const age = loaded === undefined ? Infinity : clock() - loaded.at;
    if (
      loaded === undefined ||
      age > (options.ttlMs ?? 3600_000) ||
      (forceReload && age > (options.minReloadMs ?? 300_000))
    )
      loaded = { keys: keysOf(await load(), options.source), at: clock() };
    return loaded.keys;
  }
  return {
    async keyFor(kid, now) {
      if (kid === undefined) throw invalid("the token header has no kid");
      const find = (list: Jwk[]) => list.find((k) => k.kid === kid);
      const jwk = find(await keys(false)) ?? find(await keys(true));
      if (jwk === undefined) throw invalid(`no key ${kid} in ${options.source}`);
      if (jwk.kty !== "EC" || jwk.crv !== "P-384" || (jwk.alg !== undefined && jwk.alg !== "ES384"))
        throw invalid(`key ${kid} is not an ES384 (EC P-384) key`);
      let key: KeyObject;
      try {
        key = createPublicKey({ key: { ...jwk, x5c: undefined } as never, format: "jwk" });
      } catch {
        throw invalid(`key ${kid} is not a valid public JWK`);
      }
      if (jwk.x5c !== undefined) checkX5c(jwk.x5c, key, roots, now);
      return key;
    },
  };
}

/** `--nras-jwks <file|url>` and the JWKS of the policy's NRAS. */
export function nrasKeySource(
  location: string,
  options: {
    roots: readonly string[];
    /** Default: a client of its own over the global fetch. */
    client?: AttestationServiceClient;
    onRequest?: RequestObserver;
    /** Per attempt (default the client's, 10 s). */
    timeoutMs?: number;
  },
): NrasKeySource {
  if (/^https:\/\//i.test(location)) {
    const client = options.client ?? createAttestationServiceClient();
    return jwksKeySource(
      async () => {
        const response = await client.get(location, {
          service: "nvidia-nras",
          headers: { accept: "application/json" },
          maxBytes: MAX_JWKS_BYTES,
          timeoutMs: options.timeoutMs,
          onRequest: options.onRequest,
        });
        if (response === undefined)
          throw new EvidenceError(
            "CollateralUnavailable",
            `NVIDIA NRAS ${location}: no JWKS there (HTTP 404)`,
          );
        try {
          return JSON.parse(Buffer.from(response.body).toString("utf8")) as unknown;
        } catch (error) {
          throw new EvidenceError(
            "EvidenceMalformed",
            `NRAS JWKS ${location} is not JSON: ${(error as Error).message}`,
          );
        }
      },
      { source: location, roots: options.roots },
    );
  }
  if (/^[a-z]+:\/\//i.test(location)) throw new Error(`NRAS JWKS URL ${location} is not https`);
  return jwksKeySource(
    async () => {
      const text = await readFile(location, "utf8");
      return JSON.parse(text) as unknown;
    },
    { source: location, roots: options.roots, ttlMs: Infinity },
  );
}
