// A client-node KubeConfig (controller, webhook). The agent and guest read kubeconfig files themselves
// with rest-kubeconfig.ts, into a KubeConnection for the light client, so that they never load client-node.
import { createHash } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";

type CreateDispatcher = (cluster: unknown, agentOptions: Record<string, unknown>) => unknown;

function tlsKey(cluster: unknown, agentOptions: Record<string, unknown>): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify((cluster as { server?: string } | null)?.server ?? ""));
  for (const field of ["ca", "cert", "key", "servername", "rejectUnauthorized"]) {
    const value = agentOptions[field];
    hash.update(`${field}=`);
    if (Buffer.isBuffer(value) || typeof value === "string") hash.update(value);
    else hash.update(JSON.stringify(value ?? null));
  }
  return hash.digest("hex");
}

/**
 * client-node 2.0.1 builds a new undici Agent, so a new TLS connection, for every request. Reuse one per
 * server and TLS material (a rotated client certificate gets a new one), so watches and reconciles share
 * keep-alive connections.
 */
export function withReusedConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createDispatcher: CreateDispatcher };
  const create = target.createDispatcher.bind(kc);
  const cache = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = tlsKey(cluster, agentOptions);
    if (!cache.has(key)) {
      if (cache.size > 8) cache.clear();
      cache.set(key, create(cluster, agentOptions));
    }
    return cache.get(key);
  };
  return kc;
}

/** Loads `--kubeconfig` when given, else KUBECONFIG / ~/.kube/config / the in-cluster ServiceAccount. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined && path !== "") kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (kc.getCurrentCluster() === null) throw new Error("no Kubernetes cluster configured (use --kubeconfig)");
  return withReusedConnections(kc);
}
