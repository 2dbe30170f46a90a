/**
 * An HTTPS server on a local address for simulated services (Intel PCS, AMD KDS, NVIDIA's), with a certificate
 * issued at start by a throwaway CA that exists only in this process: clients trust that CA's PEM (`caPem`) and
 * keep TLS verification on. The keys never leave memory.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { isIP, type AddressInfo } from "node:net";
import { issueCertificate } from "../../webhook/certs/x509.ts";

export interface LocalHttpsServerOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Further names or IP addresses the certificate covers; the first also names the server in `url`. */
  serverNames?: readonly string[];
}

export interface LocalHttpsServer {
  /** https://<name>:<port>, no trailing slash. */
  url: string;
  /** The CA that issued the server's certificate (PEM): what a client must trust. */
  caPem: string;
  close(): Promise<void>;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const HOUR_MS = 3600_000;

export async function startLocalHttpsServer(
  handler: RequestHandler,
  options: LocalHttpsServerOptions = {},
): Promise<LocalHttpsServer> {
  const host = options.host ?? "127.0.0.1";
  const wildcard = host === "0.0.0.0" || host === "::";
  const names = [...(wildcard ? ["127.0.0.1"] : [host]), ...(options.serverNames ?? [])];
  const notBefore = new Date(Date.now() - HOUR_MS);
  const notAfter = new Date(Date.now() + 365 * 24 * HOUR_MS);
  const ca = issueCertificate({
    commonName: "trustgate simulated services CA",
    ca: true,
    notBefore,
    notAfter,
  });
  const serving = issueCertificate({
    commonName: names[0] ?? host,
    ca: false,
    notBefore,
    notAfter,
    sans: [...new Set(names)],
    issuer: ca,
  });
  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = options.serverNames?.[0] ?? names[0] ?? host;
  const authority = isIP(shown) === 6 ? `[${shown}]` : shown;
  return {
    url: `https://${authority}:${port}`,
    caPem: ca.certPem,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
