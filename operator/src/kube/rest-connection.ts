import { readFile } from "node:fs/promises";

export type BearerToken = { token: string } | { tokenFile: string };

/** Where the API server is and how to authenticate to it. TLS to the server is always verified. */
export interface KubeConnection {
  /** https URL of the API server. */
  server: string;
  /** PEM certificates trusted for the server; the system roots when absent. */
  ca?: string;
  /** Name checked against the server certificate instead of the URL's host (kubeconfig tls-server-name). */
  tlsServerName?: string;
  /** PEM client certificate and key. */
  clientCertificate?: { cert: string; key: string };
  bearer?: BearerToken;
  namespace?: string;
  /** Where this came from, for logs and error messages. */
  source: string;
}

/** Checks that `value` is an https URL; plain http would send credentials unprotected. */
export function httpsServer(value: string, where: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${where}: server ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== "https:")
    throw new Error(`${where}: server ${JSON.stringify(value)} is not https; trustgate only talks TLS`);
  return value;
}

/**
 * The token to send now. A token file is read on every call: projected ServiceAccount tokens are
 * rotated by the kubelet, and a request is rare enough (about one a minute) for a read to cost nothing.
 */
export async function currentBearerToken(bearer: BearerToken): Promise<string> {
  if ("token" in bearer) return bearer.token;
  let text: string;
  try {
    text = await readFile(bearer.tokenFile, "utf8");
  } catch (error) {
    throw new Error(`cannot read token file ${bearer.tokenFile}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const token = text.trim();
  if (token === "") throw new Error(`token file ${bearer.tokenFile} is empty`);
  return token;
}
