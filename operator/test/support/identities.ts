import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";

/** A kubeconfig file that authenticates with `token` against the admin kubeconfig's cluster. */
export async function writeTokenKubeconfig(admin: KubeConfig, token: string, path: string): Promise<string> {
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error("admin kubeconfig has no cluster");
  const caData = cluster.caData ?? "";
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "local", cluster: { server: cluster.server, "certificate-authority-data": caData } }],
    users: [{ name: "sa", user: { token } }],
    contexts: [{ name: "sa", context: { cluster: "local", user: "sa" } }],
    "current-context": "sa",
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

/** A KubeConfig for the admin kubeconfig's cluster that authenticates with `token`. */
export function asUser(admin: KubeConfig, token: string): KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error("no cluster");
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: "sa", token }],
    contexts: [{ name: "sa", cluster: cluster.name, user: "sa" }],
    currentContext: "sa",
  });
  return kc;
}

const IMAGE = `registry.example.com/trustgate@sha256:${"ab".repeat(32)}`;

/**
 * A token for `serviceAccount` as a pod bound to `nodeName` would get it (TokenRequest bound to a Pod
 * object), so the API server puts the node name into the token's user info like on a real node.
 */
export async function podBoundToken(
  admin: KubeConfig,
  namespace: string,
  serviceAccount: string,
  nodeName: string,
): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  const pod = await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { generateName: `${serviceAccount}-` },
      spec: { nodeName, serviceAccountName: serviceAccount, containers: [{ name: "main", image: IMAGE }] },
    },
  });
  const response = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: {
      spec: {
        audiences: [],
        expirationSeconds: 3600,
        boundObjectRef: {
          apiVersion: "v1",
          kind: "Pod",
          name: pod.metadata?.name ?? "",
          uid: pod.metadata?.uid ?? "",
        },
      },
    },
  });
  return response.status?.token ?? "";
}

/** A plain ServiceAccount token (not bound to a pod), as a Deployment's pod without a node binding check. */
export async function serviceAccountToken(
  admin: KubeConfig,
  namespace: string,
  serviceAccount: string,
): Promise<string> {
  const response = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  return response.status?.token ?? "";
}

/** A kubeconfig file `<dir>/<serviceAccount>.kubeconfig` that authenticates as the ServiceAccount, as its pod would. */
export async function writeServiceAccountKubeconfig(
  admin: KubeConfig,
  namespace: string,
  serviceAccount: string,
  dir: string,
): Promise<string> {
  const token = await serviceAccountToken(admin, namespace, serviceAccount);
  return writeTokenKubeconfig(admin, token, join(dir, `${serviceAccount}.kubeconfig`));
}
