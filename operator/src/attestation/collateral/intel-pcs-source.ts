/**
 * Intel PCS v4 (https://api.trustedservices.intel.com) or a PCCS (same paths) as a CollateralSource. Issuer
 * chains come in URL-encoded response headers, so one response serves both an item and its chain.
 */
import type { CollateralSource } from "../types.ts";
import {
  createAttestationServiceClient,
  type AttestationServiceClient,
  type RequestObserver,
} from "./attestation-service-client.ts";
import * as kinds from "./kinds.ts";

export const INTEL_PCS_URL = "https://api.trustedservices.intel.com";
export const INTEL_ROOT_CA_CRL_URL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

export interface IntelPcsSourceOptions {
  /** PCS or PCCS base URL (no trailing slash). */
  baseUrl?: string;
  /** Root CA CRL location; a PCCS serves it at `<baseUrl>/sgx/certification/v4/rootcacrl`. */
  rootCaCrlUrl?: string;
  /** PCS `update` parameter for TCB info and QE identity. */
  update?: "standard" | "early";
  /** PCS subscription key, sent as `Ocp-Apim-Subscription-Key` (never shown in a message). */
  apiKey?: string;
  /** Default: a client of its own over the global fetch. */
  client?: AttestationServiceClient;
  onRequest?: RequestObserver;
  /** Per attempt (default the client's, 10 s). */
  timeoutMs?: number;
  /** The largest answer accepted (default 1 MiB). */
  maxBytes?: number;
  /** How long one response is reused for its item and its issuer chain. */
  responseReuseMs?: number;
  now?: () => number;
}

interface Endpoint {
  url: string;
  chainHeader?: string;
  /** Whether this kind asks for the chain header rather than the body. */
  wantsChain: boolean;
}

interface FetchedResponse {
  body?: Uint8Array;
  headers?: Headers;
}

const FMSPC = /^[0-9a-f]{12}$/;

function endpoint(
  options: Required<Pick<IntelPcsSourceOptions, "baseUrl" | "rootCaCrlUrl">> & IntelPcsSourceOptions,
  kind: string,
  key: string,
): Endpoint | undefined {
  const base = options.baseUrl;
  const update = options.update === undefined ? "" : `update=${options.update}`;
  const query = (parts: string[]): string => {
    const present = parts.filter((part) => part !== "");
    return present.length === 0 ? "" : `?${present.join("&")}`;
  };
  switch (kind) {
    case kinds.TDX_TCB_INFO:
    case kinds.TDX_TCB_INFO_ISSUER_CHAIN:
      if (!FMSPC.test(key)) return undefined;
      return {
        url: `${base}/tdx/certification/v4/tcb${query([`fmspc=${key}`, update])}`,
        chainHeader: "TCB-Info-Issuer-Chain",
        wantsChain: kind === kinds.TDX_TCB_INFO_ISSUER_CHAIN,
      };
    case kinds.TDX_QE_IDENTITY:
    case kinds.TDX_QE_IDENTITY_ISSUER_CHAIN:
      return {
        url: `${base}/tdx/certification/v4/qe/identity${query([update])}`,
        chainHeader: "SGX-Enclave-Identity-Issuer-Chain",
        wantsChain: kind === kinds.TDX_QE_IDENTITY_ISSUER_CHAIN,
      };
    case kinds.SGX_PCK_CRL:
    case kinds.SGX_PCK_CRL_ISSUER_CHAIN:
      if (key !== "platform" && key !== "processor") return undefined;
      return {
        url: `${base}/sgx/certification/v4/pckcrl?ca=${key}&encoding=der`,
        chainHeader: "SGX-PCK-CRL-Issuer-Chain",
        wantsChain: kind === kinds.SGX_PCK_CRL_ISSUER_CHAIN,
      };
    case kinds.SGX_ROOT_CA_CRL:
      return { url: options.rootCaCrlUrl, wantsChain: false };
    case kinds.TCB_EVALUATION_NUMBERS:
    case kinds.TCB_EVALUATION_NUMBERS_ISSUER_CHAIN:
      // When each TCB evaluation became (or becomes) current: the TCB-drift warning's switch date.
      if (key !== kinds.TDX_EVALUATION_NUMBERS_KEY) return undefined;
      return {
        url: `${base}/tdx/certification/v4/tcbevaluationdatanumbers`,
        chainHeader: "TCB-Evaluation-Data-Numbers-Issuer-Chain",
        wantsChain: kind === kinds.TCB_EVALUATION_NUMBERS_ISSUER_CHAIN,
      };
    default:
      return undefined;
  }
}

export function createIntelPcsSource(options: IntelPcsSourceOptions = {}): CollateralSource {
  const baseUrl = options.baseUrl ?? INTEL_PCS_URL;
  const settings = { ...options, baseUrl, rootCaCrlUrl: options.rootCaCrlUrl ?? INTEL_ROOT_CA_CRL_URL };
  const client = options.client ?? createAttestationServiceClient();
  const headers = options.apiKey === undefined ? undefined : { "Ocp-Apim-Subscription-Key": options.apiKey };
  const reuseMs = options.responseReuseMs ?? 60_000;
  const now = options.now ?? Date.now;
  const recent = new Map<string, { response: Promise<FetchedResponse>; at: number }>();

  async function download(url: string): Promise<FetchedResponse> {
    const response = await client.get(url, {
      service: "intel-pcs",
      headers,
      onRequest: options.onRequest,
      timeoutMs: options.timeoutMs,
      maxBytes: options.maxBytes,
    });
    return response === undefined ? {} : { body: response.body, headers: response.headers };
  }

  function fetchOnce(url: string): Promise<FetchedResponse> {
    const cached = recent.get(url);
    if (cached !== undefined && now() - cached.at < reuseMs) return cached.response;
    const response = download(url);
    recent.set(url, { response, at: now() });
    response.catch(() => recent.delete(url));
    return response;
  }

  return {
    async get(kind: string, key: string): Promise<Uint8Array | undefined> {
      const target = endpoint(settings, kind, key);
      if (target === undefined) return undefined;
      const response = await fetchOnce(target.url);
      if (!target.wantsChain) return response.body;
      const header =
        target.chainHeader === undefined ? null : (response.headers?.get(target.chainHeader) ?? null);
      return header === null ? undefined : new TextEncoder().encode(decodeURIComponent(header));
    },
  };
}
