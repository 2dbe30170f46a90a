// What `trustgate doctor` (the chart's `helm test`) decides from what it read: pure functions over API objects.

/** One check's outcome, printed as one line. */
export interface Finding {
  check: string;
  ok: boolean;
  message: string;
}

const ok = (check: string, message: string): Finding => ({ check, ok: true, message });
const fail = (check: string, message: string): Finding => ({ check, ok: false, message });

export const TRUSTGATE_RESOURCES = ["attestationpolicies", "confidentialhosts", "confidentialvms"] as const;

/** The trustgate.io/v1alpha1 discovery document (undefined: the group version is not served at all). */
export function crdsFinding(discovery: unknown): Finding {
  const check = "crds";
  if (discovery === undefined)
    return fail(
      check,
      "the API server does not serve trustgate.io/v1alpha1: the CRDs are not installed (crds.enabled)",
    );
  const resources = (discovery as { resources?: { name?: unknown }[] }).resources ?? [];
  const served = new Set(resources.map((r) => r.name));
  const missing = TRUSTGATE_RESOURCES.filter((name) => !served.has(name));
  if (missing.length > 0) return fail(check, `trustgate.io/v1alpha1 does not serve ${missing.join(", ")}`);
  return ok(check, `trustgate.io/v1alpha1 serves ${TRUSTGATE_RESOURCES.join(", ")}`);
}

interface Lease {
  spec?: { holderIdentity?: string | null; renewTime?: string | null; leaseDurationSeconds?: number | null };
}

/** The controller's leader-election Lease is held: a holder that renewed it within its duration. */
export function leaseFinding(name: string, lease: unknown, now: Date): Finding {
  const check = "controller-lease";
  if (lease === undefined)
    return fail(check, `Lease ${name} does not exist: no controller has ever led (is it running?)`);
  const spec = (lease as Lease).spec ?? {};
  const holder = spec.holderIdentity ?? "";
  if (holder === "") return fail(check, `Lease ${name} has no holder: no controller leads`);
  const renewed = Date.parse(spec.renewTime ?? "");
  const duration = spec.leaseDurationSeconds ?? 0;
  if (Number.isNaN(renewed) || duration <= 0)
    return fail(check, `Lease ${name} has no renewTime or duration`);
  const age = Math.round((now.getTime() - renewed) / 1000);
  if (age > duration)
    return fail(
      check,
      `Lease ${name} held by ${holder} expired: renewed ${String(age)} s ago, duration ${String(duration)} s`,
    );
  return ok(check, `Lease ${name} held by ${holder}, renewed ${String(Math.max(age, 0))} s ago`);
}

/** The controller's public JWKS: present, parseable, at least one key, and no private key material. */
export function jwksFinding(name: string, configMap: unknown): Finding {
  const check = "jwks";
  if (configMap === undefined)
    return fail(check, `ConfigMap ${name} does not exist: the controller has not published its signing keys`);
  const text = (configMap as { data?: Record<string, string> }).data?.["jwks.json"];
  if (text === undefined) return fail(check, `ConfigMap ${name} has no jwks.json`);
  let keys: unknown;
  try {
    keys = (JSON.parse(text) as { keys?: unknown }).keys;
  } catch (error) {
    return fail(check, `ConfigMap ${name} jwks.json is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(keys) || keys.length === 0)
    return fail(check, `ConfigMap ${name} jwks.json has no keys`);
  const secret = keys.filter((k) => typeof k !== "object" || k === null || "d" in k);
  if (secret.length > 0)
    return fail(
      check,
      `ConfigMap ${name} jwks.json holds private key material ("d"): rotate the signing key`,
    );
  return ok(check, `ConfigMap ${name} holds ${String(keys.length)} public signing key(s)`);
}

interface WebhookConfiguration {
  webhooks?: {
    name?: string;
    clientConfig?: { caBundle?: string; service?: { name?: string; namespace?: string } };
  }[];
}

/**
 * The CA the API server trusts for the webhook (every webhook's caBundle, all pointing at the Service), as PEM;
 * or the finding that says what is wrong.
 */
export function webhookCa(
  name: string,
  configuration: unknown,
  service: { namespace: string; name: string },
): { ca: string } | { finding: Finding } {
  const check = "webhook";
  if (configuration === undefined)
    return { finding: fail(check, `ValidatingWebhookConfiguration ${name} does not exist`) };
  const webhooks = (configuration as WebhookConfiguration).webhooks ?? [];
  if (webhooks.length === 0)
    return { finding: fail(check, `ValidatingWebhookConfiguration ${name} has no webhooks`) };
  const bundles = new Set(webhooks.map((w) => w.clientConfig?.caBundle ?? ""));
  if (bundles.has(""))
    return { finding: fail(check, `a webhook of ${name} has no caBundle yet (the webhook has not started)`) };
  if (bundles.size > 1) return { finding: fail(check, `the webhooks of ${name} carry different caBundles`) };
  const elsewhere = webhooks.filter(
    (w) =>
      w.clientConfig?.service?.name !== service.name ||
      w.clientConfig.service.namespace !== service.namespace,
  );
  if (elsewhere.length > 0)
    return {
      finding: fail(
        check,
        `webhook ${elsewhere[0]?.name ?? "?"} of ${name} does not call Service ${service.namespace}/${service.name}`,
      ),
    };
  const [bundle = ""] = bundles;
  return { ca: Buffer.from(bundle, "base64").toString("utf8") };
}
