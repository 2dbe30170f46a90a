/**
 * An HTTP proxy on 127.0.0.1 that refuses every tunnel (`CONNECT` answered 403) and every plain request, recording
 * what it was asked for: proves that a transport goes through the configured proxy, and how a refusal is told.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface RefusingProxy {
  /** `http://127.0.0.1:<port>`, for HTTPS_PROXY. */
  url: string;
  /** The `host:port` of each CONNECT, in order. */
  connects: string[];
  close(): Promise<void>;
}

export async function startRefusingProxy(): Promise<RefusingProxy> {
  const connects: string[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(403, { "content-type": "text/plain" }).end("proxying refused\n");
  });
  server.on("connect", (req, socket) => {
    connects.push(req.url ?? "");
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connects,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
