/** Binding a server to a host:port flag and closing it without waiting for kept-alive connections. */
import type { Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";

export interface BindAddress {
  /** Undefined: every interface. */
  host?: string;
  port: number;
}

/** Parses ":8080", "127.0.0.1:8080" or "[::1]:8080"; throws on anything else. */
export function parseBindAddress(text: string): BindAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || port > 65_535) {
    throw new Error(`invalid bind address "${text}" (use host:port, e.g. :8080 or 127.0.0.1:8080)`);
  }
  const host = match[1] ?? match[2];
  return host === undefined || host === "" ? { port } : { host, port };
}

/** Listens on `address` (host:port), logs that it serves `what` there, and returns the port actually bound. */
export async function listenOn(
  server: HttpServer | HttpsServer,
  address: string,
  log: Logger,
  what: string,
): Promise<number> {
  const { host, port } = parseBindAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ address, port: bound }, `Serving ${what}`);
  return bound;
}

/** Closes the server; clients keep connections alive, and without ending them close() waits for them to time out. */
export function closeNow(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}
