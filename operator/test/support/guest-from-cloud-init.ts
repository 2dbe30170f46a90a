import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";
import { JWKS_CONFIGMAP } from "../../src/controllers/signing-key-store.ts";
import { guestConfigSecretName } from "../../src/kubevirt/virtual-machine.ts";
import { waitUntil } from "./apply.ts";
import { SYSTEM_NS } from "./install.ts";

interface CloudConfig {
  write_files?: { path: string; content: string }[];
}

export interface GuestFiles {
  config: string;
  token: string;
  secretsDir: string;
  /** The operator's JWKS as the measured image would pin it (`--operator-jwks`), from the controller's ConfigMap. */
  operatorJwks: string;
}

/** Waits for the controller's JWKS ConfigMap (in the controller's namespace) and returns its JWKS. */
async function operatorJwks(kc: KubeConfig): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  let jwks: string | undefined;
  await waitUntil(
    `ConfigMap ${SYSTEM_NS}/${JWKS_CONFIGMAP} (is the controller running?)`,
    async () => {
      const map = await core
        .readNamespacedConfigMap({ name: JWKS_CONFIGMAP, namespace: SYSTEM_NS })
        .catch(() => undefined);
      jwks = map?.data?.["jwks.json"];
      return jwks !== undefined;
    },
    30_000,
  );
  return jwks ?? "";
}

/**
 * Materialises in `dir` what the controller put into a CVM's cloud-init Secret (the sidecar's config and
 * token), as the CVM would at boot; the token path is rewritten to `dir`. Returns the paths for `trustgate guest`.
 */
export async function guestFilesFromCloudInit(
  kc: KubeConfig,
  namespace: string,
  cvmName: string,
  dir: string,
): Promise<GuestFiles> {
  const secret = await kc
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name: guestConfigSecretName(cvmName), namespace });
  const userdata = Buffer.from(secret.data?.["userdata"] ?? "", "base64").toString("utf8");
  const files = (parse(userdata) as CloudConfig).write_files ?? [];
  const content = (path: string): string => files.find((f) => f.path === path)?.content ?? "";
  const paths = {
    config: join(dir, "guest.json"),
    token: join(dir, "token"),
    secretsDir: join(dir, "secrets"),
    operatorJwks: join(dir, "operator-jwks.json"),
  };
  await mkdir(paths.secretsDir, { recursive: true });
  await writeFile(paths.operatorJwks, await operatorJwks(kc));
  await writeFile(paths.token, content("/var/run/trustgate/token"), { mode: 0o600 });
  const config = JSON.parse(content("/etc/trustgate/guest.json") || "{}") as Record<string, unknown>;
  await writeFile(paths.config, JSON.stringify({ ...config, tokenFile: paths.token }));
  return paths;
}

/** `trustgate guest` arguments for the simulated SEV-SNP TEE and GPUs signed by the test PKI in `simPki`. */
export function simulatedGuestArgs(files: GuestFiles, simPki: string): string[] {
  return [
    "guest",
    "--config",
    files.config,
    "--secrets-dir",
    files.secretsDir,
    "--operator-jwks",
    files.operatorJwks,
    "--tee-provider",
    "simulated",
    "--gpu-provider",
    "simulated",
    "--sim-pki",
    simPki,
  ];
}
