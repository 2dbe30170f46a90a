import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { KubeConnection } from "./rest-connection.ts";
import { inClusterConnection, runningInCluster, SERVICE_ACCOUNT_DIR } from "./in-cluster.ts";
import { loadKubeconfigFiles } from "./rest-kubeconfig.ts";

export interface ConnectionSources {
  /** --kubeconfig */
  kubeconfig?: string | undefined;
  env: NodeJS.ProcessEnv;
  home: string;
  serviceAccountDir?: string;
}

/**
 * The API server connection, from the first of: --kubeconfig, $KUBECONFIG (files merged in order),
 * ~/.kube/config, the pod's ServiceAccount. The same order as @kubernetes/client-node's loadFromDefault.
 */
export async function loadKubeConnection(sources: ConnectionSources): Promise<KubeConnection> {
  if (sources.kubeconfig !== undefined && sources.kubeconfig !== "")
    return loadKubeconfigFiles([sources.kubeconfig]);
  const listed = (sources.env["KUBECONFIG"] ?? "").split(delimiter).filter((path) => path !== "");
  if (listed.length > 0) return loadKubeconfigFiles(listed);
  const home = join(sources.home, ".kube", "config");
  if (sources.home !== "" && existsSync(home)) return loadKubeconfigFiles([home]);
  const serviceAccountDir = sources.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (runningInCluster(sources.env, serviceAccountDir))
    return inClusterConnection(sources.env, serviceAccountDir);
  throw new Error(
    "no Kubernetes API configured: use --kubeconfig, set KUBECONFIG, create ~/.kube/config or run in a pod",
  );
}
