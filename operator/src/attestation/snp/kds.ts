/**
 * AMD Key Distribution Service (KDS) as a CollateralSource: VCEKs (DER) by product, hwID and TCB, and the
 * ASK/ASVK + ARK chains (PEM). Whatever KDS returns is verified against the pinned ARKs like any other evidence.
 */
import { BoundedMap } from "../bounded-map.ts";
import {
  createAttestationServiceClient,
  type AttestationServiceClient,
  type RequestObserver,
} from "../collateral/attestation-service-client.ts";
import type { CollateralSource } from "../types.ts";
import type { SnpProduct, TcbVersion } from "./tcb.ts";

export const SNP_VCEK_KIND = "snp-vcek";
export const SNP_CERT_CHAIN_KIND = "snp-cert-chain";
/** AMD's CRL of the ASKs (vcek) or ASVKs (vlek) of a product, signed by its ARK (DER). */
export const SNP_CRL_KIND = "snp-crl";
export const AMD_KDS_URL = "https://kdsintf.amd.com";

const VCEK_KEY =
  /^(Milan|Genoa|Turin)\/([0-9a-f]{16}|[0-9a-f]{128})\?blSPL=\d{1,3}&teeSPL=\d{1,3}&snpSPL=\d{1,3}&ucodeSPL=\d{1,3}(&fmcSPL=\d{1,3})?$/;
const CHAIN_KEY = /^(Milan|Genoa|Turin)\/(vcek|vlek)$/;

/** Collateral key of a VCEK: `{product}/{hwid}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..[&fmcSPL=..]` (the KDS path). */
export function vcekCollateralKey(product: SnpProduct, hwId: Uint8Array, tcb: TcbVersion): string {
  const query = `blSPL=${tcb.bootloader}&teeSPL=${tcb.tee}&snpSPL=${tcb.snp}&ucodeSPL=${tcb.microcode}`;
  const fmc = tcb.fmc === undefined ? "" : `&fmcSPL=${tcb.fmc}`;
  return `${product}/${Buffer.from(hwId).toString("hex")}?${query}${fmc}`;
}

/** Collateral key of an ASK+ARK (`vcek`) or ASVK+ARK (`vlek`) chain. */
export function certChainCollateralKey(product: SnpProduct, kind: "vcek" | "vlek"): string {
  return `${product}/${kind}`;
}

/** KDS identifies a Turin chip by the first 8 bytes of CHIP_ID; earlier products by all 64. */
export function kdsHwId(product: SnpProduct, chipId: Uint8Array): Uint8Array {
  return product === "Turin" ? chipId.subarray(0, 8) : chipId;
}

export interface AmdKdsSourceOptions {
  /**
   * Default: a client of its own over the global fetch. KDS rate-limits: after a 429 the client asks no more before
   * its Retry-After, for every caller sharing it.
   */
  client?: AttestationServiceClient;
  onRequest?: RequestObserver;
  baseUrl?: string;
  /** Entries kept (VCEKs are immutable for a chip and TCB, so they never go stale). */
  maxEntries?: number;
  /** How long a cert_chain answer is reused. */
  chainTtlMs?: number;
  /** Per attempt (default the client's, 10 s). */
  timeoutMs?: number;
  now?: () => number;
}

// A VCEK is ~1.4 KiB of DER, an ASK+ARK chain ~4 KiB of PEM, a CRL of ASKs a few KiB.
const MAX_CERT_BYTES = 64 * 1024;
const MAX_CRL_BYTES = 256 * 1024;

interface CacheEntry {
  value: Promise<Uint8Array | undefined>;
  expiresAt: number;
}

function kdsUrl(
  baseUrl: string,
  kind: string,
  key: string,
): { url: string; immutable: boolean; maxBytes: number } | undefined {
  if (kind === SNP_VCEK_KIND && VCEK_KEY.test(key)) {
    return { url: `${baseUrl}/vcek/v1/${key}`, immutable: true, maxBytes: MAX_CERT_BYTES };
  }
  const chain = kind === SNP_CERT_CHAIN_KIND || kind === SNP_CRL_KIND ? CHAIN_KEY.exec(key) : null;
  if (chain === null) return undefined;
  const crl = kind === SNP_CRL_KIND;
  return {
    url: `${baseUrl}/${chain[2] ?? ""}/v1/${chain[1] ?? ""}/${crl ? "crl" : "cert_chain"}`,
    immutable: false,
    maxBytes: crl ? MAX_CRL_BYTES : MAX_CERT_BYTES,
  };
}

export function createAmdKdsSource(options: AmdKdsSourceOptions = {}): CollateralSource {
  const client = options.client ?? createAttestationServiceClient();
  const baseUrl = options.baseUrl ?? AMD_KDS_URL;
  const chainTtlMs = options.chainTtlMs ?? 24 * 3600 * 1000;
  const now = options.now ?? Date.now;
  const cache = new BoundedMap<string, CacheEntry>(options.maxEntries ?? 256);

  async function download(url: string, maxBytes: number): Promise<Uint8Array | undefined> {
    const response = await client.get(url, {
      service: "amd-kds",
      maxBytes,
      timeoutMs: options.timeoutMs,
      onRequest: options.onRequest,
    });
    return response?.body;
  }

  return {
    get(kind: string, key: string): Promise<Uint8Array | undefined> {
      const target = kdsUrl(baseUrl, kind, key);
      if (target === undefined) return Promise.resolve(undefined);
      const cached = cache.get(target.url);
      if (cached !== undefined && cached.expiresAt > now()) return cached.value;
      const value = download(target.url, target.maxBytes);
      const entry = { value, expiresAt: target.immutable ? Infinity : now() + chainTtlMs };
      cache.set(target.url, entry);
      // Failures and "not found" are not remembered: the next verification asks again.
      const forget = (): void => {
        if (cache.get(target.url) === entry) cache.delete(target.url);
      };
      void value.then((bytes) => {
        if (bytes === undefined) forget();
      }, forget);
      return value;
    },
  };
}
