/**
 * Remote mode (`spec.gpu.mode: remote`): the evidence the local verifier found authentic is sent to NVIDIA's NRAS
 * (`POST <nrasUrl>/v3/attest/gpu|switch`), and its detached EAT, once verified (eat.ts), replaces the local RIM and
 * OCSP appraisal: GPU-k / SWITCH-k is the k-th GPU / switch of the bundle. Where the token comes from is behind
 * NrasEatSource (the NRAS service, or a token file for `trustgate verify --nras-token`).
 */
import { toVerificationError, type VerificationError } from "../../types.ts";
import {
  createAttestationServiceClient,
  type AttestationServiceClient,
  type RequestObserver,
} from "../../collateral/attestation-service-client.ts";
import type { GpuEvidenceEntry } from "../checks.ts";
import type { GpuVerificationSources } from "../../types.ts";
import { PINNED_NVIDIA_ANCHORS } from "../device-chain.ts";
import type { LocalGpuResult } from "../verifier.ts";
import { appraiseNrasClaims } from "./claims.ts";
import { NRAS_PRODUCTION_ISSUER, parseDetachedEat, verifyNrasEat } from "./eat.ts";
import { nrasKeySource, type NrasKeySource } from "./nras-keys.ts";

export const DEFAULT_NRAS_URL = "https://nras.attestation.nvidia.com";
const MAX_NRAS_RESPONSE_BYTES = 1_048_576;

export interface NrasRequest {
  kind: "gpu" | "switch";
  /** The nonce the evidence answers (hex): NRAS echoes it as eat_nonce. */
  nonce: string;
  arch: string;
  evidenceList: { evidence: string; certificate: string }[];
}

export interface NrasEatSource {
  /** The detached EAT (JSON value) for the request. */
  attest(request: NrasRequest, sources: GpuVerificationSources): Promise<unknown>;
}

export interface NrasServiceOptions {
  /** Default: a client of its own over the global fetch. */
  client?: AttestationServiceClient;
  onRequest?: RequestObserver;
  /** Per attempt (default 30 s: NRAS appraises the evidence before it answers). */
  timeoutMs?: number;
}

/** NVIDIA's NRAS (or the policy's `gpu.nrasUrl`). */
export function nrasServiceSource(options: NrasServiceOptions = {}): NrasEatSource {
  const client = options.client ?? createAttestationServiceClient();
  return {
    async attest(request, sources) {
      const base = new URL(sources.nrasUrl ?? DEFAULT_NRAS_URL);
      if (base.protocol !== "https:") throw new Error(`NRAS URL ${base.href} is not https`);
      const url = new URL(`v3/attest/${request.kind}`, base.href.endsWith("/") ? base : `${base.href}/`);
      const body = JSON.stringify({
        nonce: request.nonce,
        arch: request.arch,
        evidence_list: request.evidenceList,
      });
      const response = await client.post(url, body, {
        service: "nvidia-nras",
        contentType: "application/json",
        headers: { accept: "application/json" },
        maxBytes: MAX_NRAS_RESPONSE_BYTES,
        timeoutMs: options.timeoutMs ?? 30_000,
        deadlineMs: 60_000,
        onRequest: options.onRequest,
      });
      return Buffer.from(response.body).toString("utf8");
    },
  };
}

/** One token for every request (`trustgate verify --nras-token`). */
export function fixedEatSource(eat: unknown): NrasEatSource {
  return { attest: () => Promise.resolve(eat) };
}

export interface NrasAppraiserConfig {
  source?: NrasEatSource;
  /** Default: the JWKS of the policy's NRAS (`<nrasUrl>/.well-known/jwks.json`), cached. */
  keys?: NrasKeySource;
  /** Accepted `iss` values; default NVIDIA's production NRAS only (staging tokens are refused). */
  issuers?: readonly string[];
  /** Roots an x5c chain in the JWKS must end in; default the pinned NVIDIA Device Identity CA. */
  roots?: readonly string[];
  /** Asks NRAS and its JWKS (default: a client of its own over the global fetch). */
  client?: AttestationServiceClient;
  onRequest?: RequestObserver;
}

export interface GpuRemoteAppraiser {
  /** Fills measurements, revocation and errors of the authentic results from NRAS. */
  appraise(
    entries: readonly GpuEvidenceEntry[],
    results: readonly LocalGpuResult[],
    options: { now: Date; nonce?: string; sources: GpuVerificationSources },
  ): Promise<void>;
}

function unavailable(results: readonly LocalGpuResult[], error: VerificationError): void {
  for (const result of results) {
    result.errors.push(
      { code: "RimUnavailable", message: `measurements not appraised: ${error.message}` },
      { code: "CollateralUnavailable", message: `revocation not checked: ${error.message}` },
    );
  }
}

export function createNrasAppraiser(config: NrasAppraiserConfig = {}): GpuRemoteAppraiser {
  const client = config.client ?? createAttestationServiceClient();
  const source = config.source ?? nrasServiceSource({ client, onRequest: config.onRequest });
  const roots = config.roots ?? PINNED_NVIDIA_ANCHORS.roots;
  const jwks = new Map<string, NrasKeySource>();
  function keysFor(sources: GpuVerificationSources): NrasKeySource {
    if (config.keys !== undefined) return config.keys;
    const url = new URL(
      ".well-known/jwks.json",
      `${(sources.nrasUrl ?? DEFAULT_NRAS_URL).replace(/\/*$/, "")}/`,
    ).href;
    let keys = jwks.get(url);
    if (keys === undefined) {
      keys = nrasKeySource(url, { roots, client, onRequest: config.onRequest });
      jwks.set(url, keys);
    }
    return keys;
  }

  async function appraiseKind(
    kind: "gpu" | "switch",
    devices: readonly { entry: GpuEvidenceEntry; result: LocalGpuResult }[],
    options: { now: Date; nonce: string; sources: GpuVerificationSources },
  ): Promise<void> {
    const results = devices.map((d) => d.result);
    let verified;
    try {
      const raw = await source.attest(
        {
          kind,
          nonce: options.nonce,
          arch: kind === "switch" ? "LS10" : (devices[0]?.entry.arch ?? "HOPPER"),
          evidenceList: devices.map(({ entry }) => ({
            evidence: entry.evidence,
            certificate: Buffer.from(entry.certChain).toString("base64"),
          })),
        },
        options.sources,
      );
      const keys = keysFor(options.sources);
      verified = await verifyNrasEat(parseDetachedEat(raw), {
        key: (header) => keys.keyFor(header.kid, options.now),
        now: options.now,
        nonce: options.nonce,
        issuers: config.issuers ?? [NRAS_PRODUCTION_ISSUER],
      });
    } catch (error) {
      const e = toVerificationError(error);
      if (e.code === "CollateralUnavailable") unavailable(results, e);
      else for (const result of results) result.errors.push(e);
      return;
    }
    const overallOk = verified.overall["x-nvidia-overall-att-result"] === true;
    devices.forEach(({ result }, k) => {
      const name = `${kind === "switch" ? "SWITCH" : "GPU"}-${k}`;
      const claims = verified.submods[name];
      if (claims === undefined) {
        result.errors.push({
          code: "EvidenceMalformed",
          message: `NRAS token: no ${name} for gpus[${result.index}]`,
        });
        return;
      }
      const appraisal = appraiseNrasClaims(
        claims,
        {
          kind,
          ...(result.ueid === undefined ? {} : { ueid: result.ueid }),
          driverVersion: result.driverVersion,
          vbiosVersion: result.vbiosVersion,
        },
        options.sources,
      );
      result.measurements = appraisal.measurements;
      result.revocation = appraisal.revocation;
      result.errors.push(...appraisal.errors);
      if (!overallOk && appraisal.errors.length === 0)
        result.errors.push({
          code: "PolicyViolation",
          message: "NRAS: x-nvidia-overall-att-result is not true",
        });
    });
  }

  return {
    async appraise(entries, results, options) {
      const authentic = results.flatMap((result) => {
        const entry = entries[result.index];
        return result.authentic && entry !== undefined ? [{ entry, result }] : [];
      });
      const nonce = options.nonce ?? authentic[0]?.result.nonce ?? "";
      const gpus = authentic.filter((d) => d.result.deviceType !== "switch");
      const switches = authentic.filter((d) => d.result.deviceType === "switch");
      if (gpus.length > 0) await appraiseKind("gpu", gpus, { ...options, nonce });
      if (switches.length > 0) await appraiseKind("switch", switches, { ...options, nonce });
    },
  };
}
