import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AdmissionregistrationV1Api,
  type KubeConfig,
  type V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { parse } from "yaml";
import { resolveBinDir } from "../../../hack/lib/find-binaries.ts";
import { freeLoopbackPorts, type ManagedProcess, tailFile } from "../../../hack/lib/managed-process.ts";
import { waitUntil } from "./apply.ts";
import { writeServiceAccountKubeconfig } from "./identities.ts";
import { SYSTEM_NS } from "./install.ts";
import { REPO_ROOT } from "./samples.ts";
import { startTrustgate } from "./trustgate-process.ts";

export const WEBHOOK_CONFIGURATION = "trustgate-webhook";

/**
 * The chart's ValidatingWebhookConfiguration (helm template, release "trustgate" in trustgate-system),
 * pointed at a local process: the local control plane has no Service routing. With `fence`, only
 * namespaces (or objects) carrying that label are gated, for suites sharing an API server.
 */
export async function chartWebhookConfiguration(
  port: number,
  fence?: { label: string; value: string },
): Promise<V1ValidatingWebhookConfiguration> {
  const helm = join(await resolveBinDir(), "helm");
  // helm assumes an old Kubernetes without a cluster: give it the pinned version.
  const versions = await readFile(join(REPO_ROOT, "hack/versions.sh"), "utf8");
  const k8sVersion = /^K8S_VERSION=v(\S+)$/m.exec(versions)?.[1] ?? "";
  const args = [
    ...["template", "trustgate", join(REPO_ROOT, "charts/trustgate"), "-n", SYSTEM_NS],
    ...["--kube-version", k8sVersion, "--set", "fullnameOverride=trustgate"],
    ...["--show-only", "templates/webhook-configuration.yaml"],
  ];
  const rendered = await new Promise<string>((resolve, reject) => {
    execFile(helm, args, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`helm template: ${stderr}`));
    });
  });
  const config = parse(rendered) as V1ValidatingWebhookConfiguration;
  for (const webhook of config.webhooks ?? []) {
    const path = webhook.clientConfig.service?.path ?? "";
    webhook.clientConfig = { url: `https://127.0.0.1:${String(port)}${path}` };
    if (fence === undefined) continue;
    if (webhook.namespaceSelector !== undefined)
      webhook.namespaceSelector.matchLabels = { [fence.label]: fence.value };
    else webhook.objectSelector = { matchLabels: { [fence.label]: fence.value } };
  }
  return config;
}

export interface LocalWebhook {
  process: ManagedProcess;
  port: number;
  metricsPort: number;
  /** The CA the webhook put into the caBundle (PEM). */
  caBundle: string;
}

/** Starts `trustgate webhook`: from source by default, or however `spawn` runs it (the built CLI in benchmarks). */
export type WebhookSpawner = (name: string, args: string[], dir: string) => ManagedProcess;

export interface LocalWebhookOptions {
  fence?: { label: string; value: string };
  extraArgs?: string[];
  ports?: [number, number];
  spawn?: WebhookSpawner;
  /** The log's name (`<dir>/<name>.log`); a restart gives another. */
  name?: string;
}

/**
 * Registers the chart's webhook configuration (replacing one left over) and runs `trustgate webhook` under
 * the chart's webhook ServiceAccount; resolves once the webhook patched its caBundle and is ready.
 * The webhook RBAC (charts/trustgate/files/rbac/webhook.yaml) must be applied already.
 */
export async function startLocalWebhook(
  admin: KubeConfig,
  dir: string,
  options: LocalWebhookOptions = {},
): Promise<LocalWebhook> {
  const admission = admin.makeApiClient(AdmissionregistrationV1Api);
  const ports = options.ports ?? ((await freeLoopbackPorts(2)) as [number, number]);
  await admission
    .deleteValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION })
    .catch(() => undefined);
  await admission.createValidatingWebhookConfiguration({
    body: await chartWebhookConfiguration(ports[0], options.fence),
  });
  return launchLocalWebhook(admin, dir, { ...options, ports });
}

/**
 * Runs `trustgate webhook` against the configuration registered already (by startLocalWebhook): a restart on the
 * same ports, as a replacement pod behind the same Service would be.
 */
export async function launchLocalWebhook(
  admin: KubeConfig,
  dir: string,
  options: LocalWebhookOptions & { ports: [number, number] },
): Promise<LocalWebhook> {
  const admission = admin.makeApiClient(AdmissionregistrationV1Api);
  const [port, metricsPort] = options.ports;
  const kubeconfig = await writeServiceAccountKubeconfig(admin, SYSTEM_NS, "trustgate-webhook", dir);
  const process = (options.spawn ?? startTrustgate)(
    options.name ?? "webhook",
    [
      ...["webhook", "--kubeconfig", kubeconfig, "--namespace", SYSTEM_NS],
      ...["--bind-address", `127.0.0.1:${String(port)}`],
      ...["--metrics-bind-address", `127.0.0.1:${String(metricsPort)}`],
      ...["--tls-san", "127.0.0.1", "--webhook-configuration", WEBHOOK_CONFIGURATION],
      ...(options.extraArgs ?? []),
    ],
    dir,
  );
  let caBundle = "";
  try {
    await waitUntil(
      "the webhook to patch its caBundle",
      async () => {
        if (process.hasExited()) throw new Error(`the webhook exited: ${await process.exited}`);
        const config = await admission.readValidatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION });
        caBundle = Buffer.from(config.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString("utf8");
        return (config.webhooks ?? []).every((w) => (w.clientConfig.caBundle ?? "") !== "");
      },
      30_000,
    );
    await waitUntil(
      "the webhook to be ready (caches synced under its RBAC)",
      async () => {
        const response = await fetch(`http://127.0.0.1:${String(metricsPort)}/readyz`).catch(() => undefined);
        await response?.text();
        return response?.status === 200;
      },
      30_000,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- webhook log:\n${tailFile(process.logPath, 40)}`, {
      cause: error,
    });
  }
  return { process, port, metricsPort, caBundle };
}
