/**
 * The GpuRevocationChecker by OCSP: every certificate of the device chain that NVIDIA issued (not the leaf, which the
 * device's own BROM key signs, nor the pinned root) and every certificate of each RIM signer chain but the root is
 * checked with the configured sources (offline directory, then the policy's `gpu.ocspUrl`). Verified answers are
 * cached until they expire; the time window is re-checked on every use. No source at all: "unchecked" without error
 * (the policy's `requireRevocationCheck` decides). A source that cannot answer, or an answer "unknown": "unchecked"
 * with CollateralUnavailable. A forged, expired or unrelated response is an error of its own code.
 */
import type { X509Certificate } from "node:crypto";
import { EvidenceError, toVerificationError, type VerificationError } from "../../types.ts";
import { BoundedMap } from "../../bounded-map.ts";
import type { GpuRevocationChecker, RevocationCheck } from "../checks.ts";
import type { GpuVerificationSources } from "../../types.ts";
import { commonName } from "../rim/signer-chain.ts";
import { checkOcspWindow, parseOcspResponse, verifyOcspResponse, type OcspAnswer } from "./ocsp-response.ts";
import { urlOcspSource, type OcspSource } from "./ocsp-source.ts";
import {
  createAttestationServiceClient,
  type AttestationServiceClient,
  type RequestObserver,
} from "../../collateral/attestation-service-client.ts";

export interface OcspCheckerConfig {
  /** Consulted before the policy's responder (e.g. `trustgate verify --ocsp-dir`). */
  sources?: readonly OcspSource[];
  /** Asks the policy's `gpu.ocspUrl` (default: a client of its own over the global fetch). */
  client?: AttestationServiceClient;
  onRequest?: RequestObserver;
  /** Per attempt (default the client's, 10 s). */
  timeoutMs?: number;
  /** Verified answers kept (default 4096; 0 disables the cache). */
  cacheEntries?: number;
}

export interface OcspRevocationChecker extends GpuRevocationChecker {
  readonly stats: { hits: number; misses: number };
}

interface Target {
  what: string;
  certificate: X509Certificate;
  issuer: X509Certificate;
}

function pairs(chain: readonly X509Certificate[], from: number, what: string): Target[] {
  const targets: Target[] = [];
  for (let i = from; i < chain.length - 1; i++) {
    const certificate = chain[i];
    const issuer = chain[i + 1];
    if (certificate !== undefined && issuer !== undefined) targets.push({ what, certificate, issuer });
  }
  return targets;
}

function holdAllowed(answer: OcspAnswer, sources: GpuVerificationSources): boolean {
  return answer.reason === "certificateHold" && sources.allowCertificateHold;
}

export function createOcspRevocationChecker(config: OcspCheckerConfig = {}): OcspRevocationChecker {
  const cache = new BoundedMap<string, OcspAnswer>(config.cacheEntries ?? 4096);
  const responders = new Map<string, OcspSource>();
  let client = config.client;
  const stats = { hits: 0, misses: 0 };

  function sourcesFor(policySources: GpuVerificationSources): OcspSource[] {
    const sources = [...(config.sources ?? [])];
    const url = policySources.ocspUrl;
    if (url !== undefined) {
      let responder = responders.get(url);
      if (responder === undefined) {
        responder = urlOcspSource({
          url,
          client: (client ??= createAttestationServiceClient()),
          onRequest: config.onRequest,
          timeoutMs: config.timeoutMs,
        });
        responders.set(url, responder);
      }
      sources.push(responder);
    }
    return sources;
  }

  async function answerFor(target: Target, now: Date, sources: readonly OcspSource[]): Promise<OcspAnswer> {
    const key = `${target.certificate.fingerprint256}/${target.issuer.fingerprint256}`;
    const cached = cache.get(key);
    if (cached !== undefined && cached.validFrom <= now && now <= cached.validUntil) {
      stats.hits++;
      return cached;
    }
    stats.misses++;
    let failure: Error | undefined;
    for (const source of sources) {
      try {
        const der = await source.get(target);
        if (der === undefined) continue;
        const answer = verifyOcspResponse(parseOcspResponse(der), target.certificate, target.issuer);
        checkOcspWindow(answer, now);
        cache.set(key, answer);
        return answer;
      } catch (error) {
        failure ??= error instanceof Error ? error : new Error(String(error));
      }
    }
    if (failure !== undefined) throw failure;
    const names = sources.map((s) => s.name).join(", ");
    throw new EvidenceError(
      "CollateralUnavailable",
      `no OCSP response for ${commonName(target.certificate.subject)} from ${names}`,
    );
  }

  return {
    stats,
    async check(evidence, now, context): Promise<RevocationCheck> {
      const sources = sourcesFor(context.sources);
      if (sources.length === 0) return { revocation: "unchecked", errors: [] };
      const targets = [
        ...pairs(evidence.device.chain, 1, "device certificate"),
        ...context.rimChains.flatMap((chain) => pairs(chain, 0, "RIM signer chain certificate")),
      ];
      const errors: VerificationError[] = [];
      let revoked = false;
      let incomplete = false;
      for (const target of targets) {
        let answer: OcspAnswer;
        try {
          answer = await answerFor(target, now, sources);
        } catch (error) {
          incomplete = true;
          const e = toVerificationError(error);
          errors.push({ code: e.code, message: `${target.what}: ${e.message}` });
          continue;
        }
        if (answer.status === "unknown") {
          incomplete = true;
          errors.push({
            code: "CollateralUnavailable",
            message: `${target.what} ${answer.subject}: OCSP responder ${answer.responder} reports status unknown`,
          });
        } else if (answer.status === "revoked" && !holdAllowed(answer, context.sources)) {
          revoked = true;
          errors.push({
            code: "CertificateRevoked",
            message: `${target.what} ${answer.subject} was revoked at ${answer.revokedAt?.toISOString() ?? "?"} (reason ${answer.reason ?? "unspecified"})`,
          });
        }
      }
      return { revocation: revoked ? "revoked" : incomplete ? "unchecked" : "good", errors };
    },
  };
}
