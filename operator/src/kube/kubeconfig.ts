import { KubeConfig } from "@kubernetes/client-node";

/** Loads `--kubeconfig` when given, else KUBECONFIG / ~/.kube/config / the in-cluster ServiceAccount. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined && path !== "") kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (kc.getCurrentCluster() === null) throw new Error("no Kubernetes cluster configured (use --kubeconfig)");
  return kc;
}
