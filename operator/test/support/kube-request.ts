import type { RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { httpsGet, type HttpsResponse } from "../../../hack/lib/https-get.ts";
import { apiErrorStatus } from "../../src/kube/api-error.ts";

function pemText(value: RequestOptions["ca"]): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.map(String).join("\n") : String(value);
}

/** A raw GET with the kubeconfig's credentials, for what the typed clients do not expose (Table output, discovery). */
export async function kubeGet(
  kc: KubeConfig,
  path: string,
  headers: Record<string, string> = {},
): Promise<HttpsResponse> {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error("kubeconfig has no current cluster");
  const tls: RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const ca = pemText(tls.ca);
  if (ca === undefined) throw new Error("kubeconfig has no cluster CA");
  return httpsGet(new URL(path, server).toString(), {
    ca,
    cert: pemText(tls.cert),
    key: pemText(tls.key as RequestOptions["ca"]),
    headers,
  });
}

/** The API server's message refusing `request` (an admission webhook's or policy's denial), or undefined when it was admitted. */
export async function refusal(request: () => Promise<unknown>): Promise<string | undefined> {
  return request().then(
    () => undefined,
    (error: unknown) => {
      const status = apiErrorStatus(error);
      if (status === undefined) throw error as Error;
      return status.message;
    },
  );
}
