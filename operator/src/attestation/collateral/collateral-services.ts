/**
 * The operator's collateral path, built once from its settings and shared by every appraisal: the offline mirror
 * (`--collateral-dir`) first, then a cache (in memory, and persisted in `--collateral-cache-dir`) in front of
 * Intel PCS or a PCCS and AMD KDS. `trustgate verify` builds the same thing from the same flags; it is offline
 * unless a service URL is given, while the controller asks Intel's and AMD's services unless told `off`.
 */
import type { CollateralSource } from "../types.ts";
import { SNP_VCEK_KIND, createAmdKdsSource } from "../snp/kds.ts";
import {
  createCachingSource,
  firstAvailable,
  type CacheOutcome,
  type CachingSource,
} from "./caching-source.ts";
import { createDirectoryStore, type CollateralStore } from "./collateral-store.ts";
import { createDirectorySource } from "./directory-source.ts";
import { httpsTransport } from "../../http/transport.ts";
import { createAttestationServiceClient, type RequestObserver } from "./attestation-service-client.ts";
import { createIntelPcsSource, INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL } from "./intel-pcs-source.ts";

export interface CollateralServiceSettings {
  /** Intel PCS v4 base URL; undefined: not asked. */
  intelPcsUrl?: string;
  /** A PCCS base URL instead of Intel PCS (its root CA CRL at `<pccs>/sgx/certification/v4/rootcacrl`). */
  pccsUrl?: string;
  intelRootCaCrlUrl?: string;
  intelPcsUpdate?: "standard" | "early";
  /** Intel PCS subscription key (sent as Ocp-Apim-Subscription-Key; never logged). */
  intelPcsApiKey?: string;
  /** AMD KDS base URL; undefined: not asked. */
  amdKdsUrl?: string;
  /** CA certificates (PEM) trusted instead of the system's for the services (a PCCS with its own CA). */
  caPem?: string;
  /** An offline mirror (`trustgate collateral sync --out DIR`), asked before the services. */
  mirrorDir?: string;
  /** Persist fetched items here. */
  cacheDir?: string;
  staleGraceMs?: number;
  refreshAheadMs?: number;
  onLookup?: (kind: string, outcome: CacheOutcome) => void;
  /** Told of every request to a service (metrics). */
  onRequest?: RequestObserver;
  /** The cache's clock (default Date.now); benchmarks of recorded evidence run it on the evidence's time. */
  now?: () => number;
}

export interface CollateralServices {
  source: CollateralSource;
  /** The cache in front of the remote services, when there are any. */
  cache?: CachingSource;
  /** Intel's early TCB evaluation (`update=early`, cached), for the TCB-drift warning; absent without Intel. */
  early?: CachingSource;
  /** What is asked, for logs and NOTES: e.g. ["mirror /m", "Intel PCS https://…", "AMD KDS https://…"]. */
  describe: string[];
}

const trimSlash = (url: string): string => url.replace(/\/+$/, "");

/** The Intel service to ask: a PCCS, or Intel PCS with Intel's own root CA CRL location. */
function intelEndpoints(
  settings: CollateralServiceSettings,
): { baseUrl: string; rootCaCrlUrl: string } | undefined {
  if (settings.pccsUrl !== undefined) {
    const baseUrl = trimSlash(settings.pccsUrl);
    return {
      baseUrl,
      rootCaCrlUrl: settings.intelRootCaCrlUrl ?? `${baseUrl}/sgx/certification/v4/rootcacrl`,
    };
  }
  if (settings.intelPcsUrl === undefined) return undefined;
  const baseUrl = trimSlash(settings.intelPcsUrl);
  return {
    baseUrl,
    rootCaCrlUrl:
      settings.intelRootCaCrlUrl ??
      (baseUrl === INTEL_PCS_URL ? INTEL_ROOT_CA_CRL_URL : `${baseUrl}/sgx/certification/v4/rootcacrl`),
  };
}

export async function createCollateralServices(
  settings: CollateralServiceSettings,
): Promise<CollateralServices> {
  const transport = { client: serviceClient(settings) };
  const remote: CollateralSource[] = [];
  const describe: string[] = [];
  const intel = intelEndpoints(settings);
  if (intel !== undefined) {
    remote.push(
      createIntelPcsSource({
        ...intel,
        ...(settings.intelPcsUpdate === undefined ? {} : { update: settings.intelPcsUpdate }),
        ...(settings.intelPcsApiKey === undefined ? {} : { apiKey: settings.intelPcsApiKey }),
        ...transport,
      }),
    );
    describe.push(`${settings.pccsUrl === undefined ? "Intel PCS" : "PCCS"} ${intel.baseUrl}`);
  }
  if (settings.amdKdsUrl !== undefined) {
    const baseUrl = trimSlash(settings.amdKdsUrl);
    remote.push(createAmdKdsSource({ baseUrl, ...transport }));
    describe.push(`AMD KDS ${baseUrl}`);
  }
  const sources: CollateralSource[] = [];
  if (settings.mirrorDir !== undefined) {
    sources.push(createDirectorySource(settings.mirrorDir));
    describe.unshift(`mirror ${settings.mirrorDir}`);
  }
  const store = settings.cacheDir === undefined ? undefined : await createDirectoryStore(settings.cacheDir);
  const cached = (inner: CollateralSource, kindPrefix = ""): CachingSource =>
    createCachingSource(inner, {
      immutableKinds: [SNP_VCEK_KIND],
      ...(settings.now === undefined ? {} : { now: settings.now }),
      ...(store === undefined ? {} : { store: kindPrefix === "" ? store : prefixedStore(store, kindPrefix) }),
      ...(settings.staleGraceMs === undefined ? {} : { staleGraceMs: settings.staleGraceMs }),
      ...(settings.refreshAheadMs === undefined ? {} : { refreshAheadMs: settings.refreshAheadMs }),
      ...(settings.onLookup === undefined
        ? {}
        : { onLookup: (kind, outcome) => settings.onLookup?.(`${kindPrefix}${kind}`, outcome) }),
    });
  let cache: CachingSource | undefined;
  if (remote.length > 0) {
    cache = cached(firstAvailable(...remote));
    sources.push(cache);
  }
  const early =
    intel === undefined || settings.intelPcsUpdate === "early"
      ? undefined
      : cached(
          createIntelPcsSource({
            ...intel,
            update: "early",
            ...(settings.intelPcsApiKey === undefined ? {} : { apiKey: settings.intelPcsApiKey }),
            ...transport,
          }),
          "early/",
        );
  return {
    source: firstAvailable(...sources),
    ...(cache === undefined ? {} : { cache }),
    ...(early === undefined ? {} : { early }),
    describe,
  };
}

/** Early items live beside the standard ones in the same directory, under their own kinds. */
function prefixedStore(store: CollateralStore, prefix: string): CollateralStore {
  return {
    load: (kind, key) => store.load(`${prefix}${kind}`, key),
    save: (kind, key, value, fetchedAt) => store.save(`${prefix}${kind}`, key, value, fetchedAt),
  };
}

/** One client for every service: the CA bundle given (else the system's), retries, size caps, the observer. */
function serviceClient(settings: CollateralServiceSettings) {
  return createAttestationServiceClient({
    ...(settings.caPem === undefined ? {} : { transport: httpsTransport({ caPem: settings.caPem }) }),
    ...(settings.onRequest === undefined ? {} : { onRequest: settings.onRequest }),
  });
}
