import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";
import { guestConfigSecretName } from "../../src/kubevirt/virtual-machine.ts";

interface CloudConfig {
  write_files?: { path: string; content: string }[];
}

export interface GuestFiles {
  config: string;
  token: string;
  secretsDir: string;
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
  };
  await mkdir(paths.secretsDir, { recursive: true });
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
    "--tee-provider",
    "simulated",
    "--gpu-provider",
    "simulated",
    "--sim-pki",
    simPki,
  ];
}
