import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { httpsServer, type KubeConnection } from "./rest-connection.ts";

/** Where the kubelet mounts a pod's ServiceAccount token, cluster CA and namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** True inside a pod: the API server's service is in the environment and the token is mounted. */
export function runningInCluster(env: NodeJS.ProcessEnv, serviceAccountDir = SERVICE_ACCOUNT_DIR): boolean {
  return (env["KUBERNETES_SERVICE_HOST"] ?? "") !== "" && existsSync(join(serviceAccountDir, "token"));
}

/** The pod's own connection: the kubernetes service, the mounted CA and the (rotating) token file. */
export async function inClusterConnection(
  env: NodeJS.ProcessEnv,
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): Promise<KubeConnection> {
  const host = env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "";
  if (host === "" || port === "")
    throw new Error("in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  const where = `in-cluster (${serviceAccountDir})`;
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(serviceAccountDir, name), "utf8");
    } catch (error) {
      throw new Error(`${where}: cannot read ${name}: ${(error as Error).message}`, { cause: error });
    }
  };
  const ca = await read("ca.crt");
  // Read once now so that a missing token fails at start, not at the first request.
  await read("token");
  const connection: KubeConnection = {
    server: httpsServer(`https://${host.includes(":") ? `[${host}]` : host}:${port}`, where),
    ca,
    bearer: { tokenFile: join(serviceAccountDir, "token") },
    source: where,
  };
  const namespace = (await read("namespace").catch(() => "")).trim();
  if (namespace !== "") connection.namespace = namespace;
  return connection;
}
