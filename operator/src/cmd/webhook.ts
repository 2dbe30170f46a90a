import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { AdmissionregistrationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { type Command, type ParsedArgs, UsageError } from "../cli/command.ts";
import { JWKS_CONFIGMAP } from "../controllers/signing-key-store.ts";
import { kubeConfigFromFlag } from "./kubeconfig-flag.ts";
import { parseDuration } from "../runtime/duration.ts";
import { createLogger } from "../runtime/logger.ts";
import { OperatorMetrics } from "../runtime/metrics.ts";
import { DEFAULT_METRICS_BIND_ADDRESS, startMetricsServer } from "../runtime/metrics-server.ts";
import { WebhookCaches } from "../webhook/caches.ts";
import type { RotationPolicy } from "../webhook/certs/rotation.ts";
import {
  type CertificateSource,
  DirectoryCertificates,
  SelfManagedCertificates,
} from "../webhook/certs/source.ts";
import type { KeyPairPem } from "../webhook/certs/x509.ts";
import { AuditEventRecorder } from "../webhook/audit-events.ts";
import { parseWebhookMode, type WebhookMode } from "../webhook/audit.ts";
import { admissionMetrics, certificateExpiryMetric } from "../webhook/metrics.ts";
import { DEFAULT_WEBHOOK_BIND_ADDRESS, startWebhookServer, type WebhookServer } from "../webhook/server.ts";

const USAGE = `Usage: trustgate webhook [options]

Validating admission webhook (HTTPS only). Admits Pods and workload templates labelled
trustgate.io/requires-attested-vm=<cvm> only while that ConfidentialVM (same namespace) is Attested
with an unexpired result; ConfidentialVMs only when their AttestationPolicy exists; refuses deleting an
AttestationPolicy that ConfidentialVMs reference. Also serves the operator's result-signing keys at
/.well-known/jwks.json, and /healthz, /readyz.

  --kubeconfig <file>                 default: $KUBECONFIG, ~/.kube/config, then in-cluster
  --bind-address <addr>               HTTPS address (default ${DEFAULT_WEBHOOK_BIND_ADDRESS})
  --metrics-bind-address <addr>       /metrics, /healthz, /readyz over HTTP (default ${DEFAULT_METRICS_BIND_ADDRESS}; 0 turns it off)
  --namespace <ns>                    its own namespace: certificate Secret, JWKS ConfigMap
                                      (default: $POD_NAMESPACE, the ServiceAccount's, trustgate-system)
  --jwks-configmap <name>             the controller's JWKS ConfigMap (default ${JWKS_CONFIGMAP})
  --mode enforce|audit                enforce (default) refuses; audit admits workloads the gate would refuse,
                                      with an admission warning and a Warning Event (AdmissionWouldBeRefused)
                                      on their ConfidentialVM; ConfidentialVM and policy checks stay enforced

Serving certificate from files (e.g. a mounted cert-manager Secret):
  --cert-dir <dir>                    tls.crt and tls.key, re-read every 10s; nothing else is managed
Or self-managed (the default): a CA and a serving certificate (ECDSA P-256) in a Secret, the CA put
into the caBundle of the webhook configurations, both renewed at 2/3 of their lifetime:
  --cert-secret <name>                default trustgate-webhook-tls
  --service-name <name>               names <svc>.<ns>.svc and <svc>.<ns>.svc.<cluster-domain> (default trustgate-webhook)
  --cluster-domain <domain>           default cluster.local
  --tls-san <name|ip>                 one more certificate name (repeatable)
  --webhook-configuration <name>      ValidatingWebhookConfiguration to keep the caBundle of (repeatable;
                                      default trustgate-webhook)
  --cert-lifetime <duration>          serving certificate lifetime (default 2160h, 90 days)
  --ca-lifetime <duration>            CA lifetime (default 8760h); a replaced CA stays trusted until it expires
  --cert-check-interval <duration>    longest time between checks of the Secret and caBundles (default 1m)`;

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

function list(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function duration(args: ParsedArgs, name: string, fallback: string): number {
  try {
    const ms = parseDuration(text(args, name) ?? fallback);
    if (ms <= 0) throw new Error("must be positive");
    return ms;
  } catch (error) {
    throw new UsageError(`trustgate webhook: --${name}: ${(error as Error).message}`);
  }
}

function ownNamespace(args: ParsedArgs): string {
  const flag = text(args, "namespace") ?? process.env["POD_NAMESPACE"];
  if (flag !== undefined && flag !== "") return flag;
  try {
    return readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim();
  } catch {
    return "trustgate-system";
  }
}

/** The self-managed certificate settings from the flags; exported for the command's tests. */
export function selfManagedSettings(
  args: ParsedArgs,
  namespace: string,
): {
  sans: string[];
  policy: RotationPolicy;
  configurations: string[];
  secret: string;
  checkIntervalMs: number;
} {
  const service = text(args, "service-name") ?? "trustgate-webhook";
  const domain = text(args, "cluster-domain") ?? "cluster.local";
  const sans = [
    ...new Set([
      `${service}.${namespace}.svc`,
      `${service}.${namespace}.svc.${domain}`,
      ...list(args, "tls-san"),
    ]),
  ];
  const policy = {
    certLifetimeMs: duration(args, "cert-lifetime", "2160h"),
    caLifetimeMs: duration(args, "ca-lifetime", "8760h"),
  };
  if (policy.caLifetimeMs < policy.certLifetimeMs) {
    throw new UsageError("trustgate webhook: --ca-lifetime must be at least --cert-lifetime");
  }
  const configurations = list(args, "webhook-configuration");
  return {
    sans,
    policy,
    configurations: configurations.length > 0 ? configurations : ["trustgate-webhook"],
    secret: text(args, "cert-secret") ?? "trustgate-webhook-tls",
    checkIntervalMs: duration(args, "cert-check-interval", "1m"),
  };
}

export const webhookCommand: Command = {
  name: "webhook",
  summary: "Run the validating admission webhook and the JWKS endpoint (HTTPS)",
  usage: USAGE,
  options: {
    kubeconfig: { type: "string" },
    "bind-address": { type: "string" },
    "metrics-bind-address": { type: "string" },
    namespace: { type: "string" },
    "jwks-configmap": { type: "string" },
    "cert-dir": { type: "string" },
    "cert-secret": { type: "string" },
    "service-name": { type: "string" },
    "cluster-domain": { type: "string" },
    "tls-san": { type: "string", multiple: true },
    "webhook-configuration": { type: "string", multiple: true },
    "cert-lifetime": { type: "string" },
    "ca-lifetime": { type: "string" },
    "cert-check-interval": { type: "string" },
    mode: { type: "string" },
  },
  async run(args) {
    if (args.positionals.length > 0) {
      throw new UsageError(`trustgate webhook: unexpected argument ${args.positionals[0] ?? ""}`);
    }
    let mode: WebhookMode;
    try {
      mode = parseWebhookMode(text(args, "mode"));
    } catch (error) {
      throw new UsageError(`trustgate webhook: --mode ${(error as Error).message}`);
    }
    const namespace = ownNamespace(args);
    const certDir = text(args, "cert-dir");
    const settings = certDir === undefined ? selfManagedSettings(args, namespace) : undefined;
    const log = createLogger("trustgate-webhook");
    const kc = kubeConfigFromFlag("webhook", text(args, "kubeconfig"));

    const caches = new WebhookCaches({
      kc,
      log,
      jwks: { namespace, name: text(args, "jwks-configmap") ?? JWKS_CONFIGMAP },
    });
    await caches.start();

    const source: CertificateSource =
      settings === undefined
        ? new DirectoryCertificates(certDir ?? "", log)
        : new SelfManagedCertificates({
            core: kc.makeApiClient(CoreV1Api),
            admission: kc.makeApiClient(AdmissionregistrationV1Api),
            namespace,
            secretName: settings.secret,
            webhookConfigurations: settings.configurations,
            caName: "trustgate-webhook-ca",
            sans: settings.sans,
            policy: settings.policy,
            checkIntervalMs: settings.checkIntervalMs,
            log,
          });

    const metrics = new OperatorMetrics();
    const serving: { server?: WebhookServer } = {};
    const cachesSynced = { name: "caches-synced", ready: () => caches.synced() };
    const readiness = [
      cachesSynced,
      { name: "certificate-loaded", ready: () => serving.server !== undefined },
    ];
    const bind = text(args, "metrics-bind-address") ?? DEFAULT_METRICS_BIND_ADDRESS;
    const metricsServer =
      bind === "0"
        ? undefined
        : await startMetricsServer({ address: bind, metrics, log, readinessChecks: readiness });

    const certificateExpiry = certificateExpiryMetric(metrics.registry);
    const recordExpiry = (certificate: KeyPairPem): void => {
      try {
        certificateExpiry(certificate.certPem);
      } catch (error) {
        log.warn({ reason: (error as Error).message }, "Could not read the serving certificate's expiry");
      }
    };
    let latest: KeyPairPem | undefined;
    const first = await source.start((certificate) => {
      latest = certificate;
      recordExpiry(certificate);
      serving.server?.setCertificate(certificate);
    });
    const auditEvents =
      mode === "audit"
        ? new AuditEventRecorder({
            core: kc.makeApiClient(CoreV1Api),
            log,
            instance: process.env["POD_NAME"] ?? hostname(),
          })
        : undefined;
    const server = await startWebhookServer({
      address: text(args, "bind-address") ?? DEFAULT_WEBHOOK_BIND_ADDRESS,
      certificate: first,
      view: caches.view(),
      jwks: () => caches.jwks(),
      readiness: [cachesSynced],
      log,
      observer: admissionMetrics(metrics.registry),
      mode,
      ...(auditEvents === undefined
        ? {}
        : {
            onWouldRefuse: (request, refusal) => {
              auditEvents.record(request, refusal);
            },
          }),
    });
    serving.server = server;
    recordExpiry(latest ?? first);
    // A renewal that arrived while the server was starting.
    if (latest !== undefined) server.setCertificate(latest);
    log.info(
      { namespace, mode, certificates: certDir === undefined ? "self-managed" : certDir },
      "Started trustgate webhook",
    );

    await new Promise<void>((resolve) => {
      process.once("SIGTERM", () => {
        resolve();
      });
      process.once("SIGINT", () => {
        resolve();
      });
    });
    log.info("Stopping trustgate webhook");
    source.stop();
    await server.close();
    await caches.stop();
    await metricsServer?.close();
    return 0;
  },
};
