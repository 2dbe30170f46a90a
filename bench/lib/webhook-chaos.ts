/**
 * Webhook chaos: SIGKILL `trustgate webhook` (registered with failurePolicy Fail, as the chart does), count the
 * labelled Pods the API server refuses while it is down and whether unlabelled Pods notice, restart it on the same
 * port and measure how long until a labelled Pod is admitted again. Shared by bench/chaos-webhook.ts and its
 * integration test.
 */
import { connect } from "node:net";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { mergePatch } from "../../operator/src/kube/merge-patch.ts";
import { anAttestationPolicy } from "../../operator/test/support/builders/attestation-policy.ts";
import { attestedStatus } from "../../operator/test/support/builders/admission-requests.ts";
import { aConfidentialVM } from "../../operator/test/support/builders/confidential-vm.ts";
import { refusal } from "../../operator/test/support/kube-request.ts";
import {
  launchLocalWebhook,
  type LocalWebhook,
  type LocalWebhookOptions,
} from "../../operator/test/support/webhook.ts";

export const REQUIRES_ATTESTED_VM = "trustgate.io/requires-attested-vm";
const CVM = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialvms" };
const ATP = { group: "trustgate.io", version: "v1alpha1", plural: "attestationpolicies" };
const IMAGE = `registry.example.com/trustgate/cvm@sha256:${"ab".repeat(32)}`;

export interface PodProbes {
  /** The API server's refusal of a dry-run Pod labelled for the Attested CVM, or undefined when admitted. */
  labelled(): Promise<string | undefined>;
  unlabelled(): Promise<string | undefined>;
  /** An unlabelled Deployment: the chart sends workload templates only through a CEL match condition on the label. */
  unlabelledDeployment(): Promise<string | undefined>;
}

/** A namespace (with `labels`, e.g. a test fence) holding an Attested ConfidentialVM and dry-run Pod probes for it. */
export async function gatedNamespace(
  admin: KubeConfig,
  namespace: string,
  labels: Record<string, string> = {},
): Promise<PodProbes> {
  const core = admin.makeApiClient(CoreV1Api);
  const objects = admin.makeApiClient(CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: namespace, labels } } });
  const policy = `${namespace}-policy`;
  await objects.createClusterCustomObject({ ...ATP, body: anAttestationPolicy(policy, {}, { labels }) });
  await objects.createNamespacedCustomObject({
    ...CVM,
    namespace,
    body: aConfidentialVM({ tee: "snp", policyRef: policy, image: { containerDisk: IMAGE } }, "attested", {
      metadata: { namespace },
    }),
  });
  await objects.patchNamespacedCustomObjectStatus(
    {
      ...CVM,
      namespace,
      name: "attested",
      body: { status: attestedStatus("True", new Date(Date.now() + 6 * 3_600_000), "Affirming", "attested") },
    },
    mergePatch,
  );
  let n = 0;
  const pod = (labels: Record<string, string>) =>
    refusal(() =>
      core.createNamespacedPod({
        namespace,
        dryRun: "All",
        body: {
          metadata: { name: `probe-${String(n++)}`, labels: { app: "x", ...labels } },
          spec: { containers: [{ name: "app", image: "registry.example.com/app:1" }] },
        },
      }),
    );
  const deployment = () =>
    refusal(() =>
      admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
        namespace,
        dryRun: "All",
        body: {
          metadata: { name: `probe-${String(n++)}` },
          spec: {
            selector: { matchLabels: { app: "x" } },
            template: {
              metadata: { labels: { app: "x" } },
              spec: { containers: [{ name: "app", image: "registry.example.com/app:1" }] },
            },
          },
        },
      }),
    );
  return {
    labelled: () => pod({ [REQUIRES_ATTESTED_VM]: "attested" }),
    unlabelled: () => pod({}),
    unlabelledDeployment: deployment,
  };
}

export interface KillRound {
  round: number;
  /** Labelled Pods refused / admitted while the webhook was dead (admitted must be 0: fail closed). */
  labelledRefusedWhileDown: number;
  labelledAdmittedWhileDown: number;
  unlabelledAdmittedWhileDown: number;
  unlabelledRefusedWhileDown: number;
  unlabelledDeploymentsRefusedWhileDown: number;
  /** A refusal while down, as the API server words it. */
  refusalWhileDown?: string;
  /** From the restart: its port accepting connections, /readyz answering 200, a labelled Pod admitted. */
  listeningMs: number;
  readyMs: number;
  admittedMs: number;
  /** admittedMs - readyMs: the time the issue bounds (≤ 10 s), negative when admitted before /readyz said so. */
  admittedAfterReadyMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function portListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => {
      resolve(false);
    });
  });
}

async function ready(metricsPort: number): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${String(metricsPort)}/readyz`).catch(() => undefined);
  await response?.text();
  return response?.status === 200;
}

/** The first time (ms after `start`) `check` holds, polling every `everyMs`, up to `timeoutMs`. */
async function firstTime(start: number, check: () => Promise<boolean>, everyMs: number, timeoutMs: number) {
  while (performance.now() - start < timeoutMs) {
    if (await check()) return performance.now() - start;
    await sleep(everyMs);
  }
  throw new Error(`not within ${String(timeoutMs)} ms`);
}

/**
 * One round: the labelled probe must be admitted first; SIGKILL the webhook; probe for `downMs`; restart it (same
 * ports, same options) and time it. Returns the round's numbers and the new webhook.
 */
export async function killAndRestartWebhook(
  admin: KubeConfig,
  dir: string,
  webhook: LocalWebhook,
  probes: PodProbes,
  options: LocalWebhookOptions & { round: number; downMs: number; timeoutMs?: number },
): Promise<{ round: KillRound; webhook: LocalWebhook }> {
  const before = await probes.labelled();
  if (before !== undefined)
    throw new Error(`round ${String(options.round)}: refused before the kill: ${before}`);
  process.kill(webhook.process.pid, "SIGKILL");
  await webhook.process.exited;
  const down = {
    labelledRefused: 0,
    labelledAdmitted: 0,
    unlabelledAdmitted: 0,
    unlabelledRefused: 0,
    deploymentsRefused: 0,
    message: undefined as string | undefined,
  };
  const downUntil = performance.now() + options.downMs;
  while (performance.now() < downUntil) {
    const labelled = await probes.labelled();
    if (labelled === undefined) down.labelledAdmitted++;
    else {
      down.labelledRefused++;
      down.message ??= labelled;
    }
    if ((await probes.unlabelled()) === undefined) down.unlabelledAdmitted++;
    else down.unlabelledRefused++;
    if ((await probes.unlabelledDeployment()) !== undefined) down.deploymentsRefused++;
    await sleep(100);
  }
  const timeoutMs = options.timeoutMs ?? 60_000;
  const start = performance.now();
  const restarted = launchLocalWebhook(admin, dir, {
    ...options,
    ports: [webhook.port, webhook.metricsPort],
    name: `webhook-${String(options.round)}`,
  });
  const [listeningMs, readyMs, admittedMs, next] = await Promise.all([
    firstTime(start, () => portListening(webhook.port), 20, timeoutMs),
    firstTime(start, () => ready(webhook.metricsPort), 20, timeoutMs),
    firstTime(start, async () => (await probes.labelled()) === undefined, 50, timeoutMs),
    restarted,
  ]);
  const round: KillRound = {
    round: options.round,
    labelledRefusedWhileDown: down.labelledRefused,
    labelledAdmittedWhileDown: down.labelledAdmitted,
    unlabelledAdmittedWhileDown: down.unlabelledAdmitted,
    unlabelledRefusedWhileDown: down.unlabelledRefused,
    unlabelledDeploymentsRefusedWhileDown: down.deploymentsRefused,
    ...(down.message === undefined ? {} : { refusalWhileDown: down.message }),
    listeningMs: Math.round(listeningMs),
    readyMs: Math.round(readyMs),
    admittedMs: Math.round(admittedMs),
    admittedAfterReadyMs: Math.round(admittedMs - readyMs),
  };
  return { round, webhook: next };
}
