import type { KubeConfig } from "@kubernetes/client-node";
import { guestConnection, loadGuestConfig } from "../../../guest/src/config.ts";
import { CvmClient } from "../../../guest/src/kube/cvm-client.ts";
import { guestFilesWhenReady } from "./attestation-stack.ts";
import type { GuestFiles } from "./guest-from-cloud-init.ts";

/** The guest's files (as guestFilesWhenReady) and a CvmClient that authenticates with its token. */
export async function guestClientWhenReady(
  admin: KubeConfig,
  namespace: string,
  name: string,
  dir: string,
): Promise<{ files: GuestFiles; client: CvmClient }> {
  const files = await guestFilesWhenReady(admin, namespace, name, dir);
  const config = await loadGuestConfig(files.config);
  return { files, client: new CvmClient(guestConnection(config, files.config), config) };
}
