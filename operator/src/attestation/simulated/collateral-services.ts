/**
 * Simulated Intel PCS/PCCS and AMD KDS over real HTTPS, on one local server (collateral-routes.ts says what each
 * path answers): the simulated PKI's TDX collateral and VCEKs, and optionally routes serving real evidence items'
 * collateral. Tests count requests per path ("no refetch") and inject faults (a status, garbage, a delay) for a path
 * prefix. hack/sim-collateral-services.ts runs it as a process for the demo.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { answerFrom, PCS_PATHS, simulatedPkiRoutes, type CollateralRoute } from "./collateral-routes.ts";
import { startLocalHttpsServer, type LocalHttpsServerOptions } from "./local-https-server.ts";
import type { SimPki } from "./sim-pki.ts";
import type { SimulatedIntelCollateral, SimulatedIntelCollateralOptions } from "./tdx-collateral.ts";

export interface CollateralFault {
  /** Requests whose path and query start with this, e.g. `/tdx/certification/v4/tcb` or `/vcek/v1/Genoa/`. */
  pathPrefix: string;
  /** Answer with this status (and `body`, if given) instead of the real answer. */
  status?: number;
  /** Answer with these bytes (status 200 unless `status` says otherwise): garbage where collateral should be. */
  body?: string | Uint8Array;
  /** Wait this long first (then answer as the fault or the route says). */
  delayMs?: number;
  /** Only the next `times` matching requests; every one until removed otherwise. */
  times?: number;
}

export interface SeenRequest {
  method: string;
  /** Path and query, as requested. */
  path: string;
}

export interface CollateralServicesOptions extends LocalHttpsServerOptions {
  /** Serve this simulated PKI's Intel collateral (PCS paths) and VCEKs, chain and CRL (KDS paths). */
  pki?: SimPki;
  /** How the simulated Intel collateral is issued (clock, revoked machines). */
  intel?: SimulatedIntelCollateralOptions;
  /** Further routes, asked after the PKI's (e.g. pccsFromItem, kdsFromItem). */
  routes?: readonly CollateralRoute[];
}

export interface SimulatedCollateralServices {
  /** Base URL of both services (PCS/PCCS paths and KDS paths), no trailing slash. */
  url: string;
  /** Where a PCCS serves the root CA CRL: createIntelPcsSource's `rootCaCrlUrl`. */
  rootCaCrlUrl: string;
  /** The CA of the server's certificate (PEM), for httpsFetchTrusting. */
  caPem: string;
  /** The simulated Intel collateral being served, when the PKI has an Intel CA (e.g. to revoke a machine). */
  intel?: SimulatedIntelCollateral;
  /** Every request, in order. */
  readonly seen: readonly SeenRequest[];
  /** How many requests asked for this path (query ignored). */
  requestCount(pathname: string): number;
  /** Adds a fault; the returned function removes it. */
  injectFault(fault: CollateralFault): () => void;
  clearFaults(): void;
  close(): Promise<void>;
}

interface ActiveFault extends CollateralFault {
  left: number;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

export async function startSimulatedCollateralServices(
  options: CollateralServicesOptions = {},
): Promise<SimulatedCollateralServices> {
  const simulated =
    options.pki === undefined ? undefined : simulatedPkiRoutes(options.pki, options.intel ?? {});
  const routes = [...(simulated?.routes ?? []), ...(options.routes ?? [])];
  const seen: SeenRequest[] = [];
  const counts = new Map<string, number>();
  let faults: ActiveFault[] = [];

  function takeFault(path: string): ActiveFault | undefined {
    const fault = faults.find((candidate) => path.startsWith(candidate.pathPrefix));
    if (fault === undefined) return undefined;
    fault.left -= 1;
    if (fault.left <= 0) faults = faults.filter((other) => other !== fault);
    return fault;
  }

  async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? "/";
    const method = req.method ?? "";
    seen.push({ method, path });
    const url = new URL(path, "https://collateral.invalid");
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    if (method !== "GET" && method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD" }).end();
      return;
    }
    const fault = takeFault(path);
    if (fault?.delayMs !== undefined) await sleep(fault.delayMs);
    if (fault !== undefined && (fault.status !== undefined || fault.body !== undefined)) {
      res.writeHead(fault.status ?? 200, { "Content-Type": "application/octet-stream" }).end(fault.body);
      return;
    }
    const answer = await answerFrom(routes, url);
    res.writeHead(answer.status, answer.headers).end(method === "HEAD" ? undefined : answer.body);
  }

  const { host, port, serverNames } = options;
  const server = await startLocalHttpsServer(
    (req, res) => {
      req.resume();
      respond(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(`simulated collateral services: ${(error as Error).message}`);
      });
    },
    {
      ...(host === undefined ? {} : { host }),
      ...(port === undefined ? {} : { port }),
      ...(serverNames === undefined ? {} : { serverNames }),
    },
  );

  return {
    url: server.url,
    rootCaCrlUrl: `${server.url}${PCS_PATHS.rootCaCrl}`,
    caPem: server.caPem,
    ...(simulated?.intel === undefined ? {} : { intel: simulated.intel }),
    seen,
    requestCount: (pathname) => counts.get(pathname) ?? 0,
    injectFault(fault) {
      const active: ActiveFault = { ...fault, left: fault.times ?? Infinity };
      faults.push(active);
      return () => {
        faults = faults.filter((other) => other !== active);
      };
    },
    clearFaults() {
      faults = [];
    },
    close: () => server.close(),
  };
}
