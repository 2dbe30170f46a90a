import type { CoreV1Api, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiErrorStatus, isNotFound } from "../../kube/api-error.ts";
import { applyPlan, planCertificates, type RotationPolicy, type TlsMaterial } from "./rotation.ts";

/** Keys of the webhook's certificate Secret (type kubernetes.io/tls plus the CA's). */
export const SECRET_KEYS = {
  cert: "tls.crt",
  key: "tls.key",
  caCert: "ca.crt",
  caKey: "ca.key",
  caBundle: "ca-bundle.crt",
} as const;

const decode = (value: string | undefined): string | undefined =>
  value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");

export function materialFromSecret(secret: V1Secret | undefined): TlsMaterial {
  const data = secret?.data ?? {};
  const pair = (cert: string, key: string) => {
    const certPem = decode(data[cert]);
    const keyPem = decode(data[key]);
    return certPem === undefined || keyPem === undefined ? undefined : { certPem, keyPem };
  };
  const ca = pair(SECRET_KEYS.caCert, SECRET_KEYS.caKey);
  const serving = pair(SECRET_KEYS.cert, SECRET_KEYS.key);
  const caBundle = decode(data[SECRET_KEYS.caBundle]);
  return { ...(ca && { ca }), ...(serving && { serving }), ...(caBundle !== undefined && { caBundle }) };
}

function secretData(material: TlsMaterial): Record<string, string> {
  const encode = (text: string | undefined): string => Buffer.from(text ?? "").toString("base64");
  return {
    [SECRET_KEYS.cert]: encode(material.serving?.certPem),
    [SECRET_KEYS.key]: encode(material.serving?.keyPem),
    [SECRET_KEYS.caCert]: encode(material.ca?.certPem),
    [SECRET_KEYS.caKey]: encode(material.ca?.keyPem),
    [SECRET_KEYS.caBundle]: encode(material.caBundle),
  };
}

export interface EnsureResult {
  material: TlsMaterial;
  /** When the certificates are next due for a look. */
  nextCheck: Date;
  /** This call wrote the Secret. */
  wrote: boolean;
}

/**
 * The self-managed certificates in a Secret of the webhook's namespace. Every replica runs `ensure`; the
 * API server serialises them: a create that finds the Secret already there (AlreadyExists) or an update on a
 * stale resourceVersion (Conflict) means another replica wrote first, so it reads again and re-decides,
 * which then finds nothing to do.
 */
export class CertificateSecret {
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  readonly #name: string;
  readonly #log: Logger;

  constructor(core: CoreV1Api, namespace: string, name: string, log: Logger) {
    this.#core = core;
    this.#namespace = namespace;
    this.#name = name;
    this.#log = log;
  }

  async ensure(
    names: { caName: string; sans: readonly string[] },
    policy: RotationPolicy,
    now = new Date(),
  ): Promise<EnsureResult> {
    for (let attempt = 1; ; attempt++) {
      const secret = await this.#read();
      const current = materialFromSecret(secret);
      const plan = planCertificates(current, names.sans, now, policy);
      if (plan.ca === "keep" && plan.serving === "keep") {
        return { material: current, nextCheck: plan.nextCheck, wrote: false };
      }
      const next = applyPlan(current, plan, names, now, policy);
      const body: V1Secret = {
        metadata: {
          name: this.#name,
          namespace: this.#namespace,
          labels: { "app.kubernetes.io/part-of": "trustgate", "app.kubernetes.io/component": "webhook" },
          ...(secret?.metadata?.resourceVersion === undefined
            ? {}
            : { resourceVersion: secret.metadata.resourceVersion }),
        },
        type: "kubernetes.io/tls",
        data: secretData(next),
      };
      try {
        if (secret === undefined)
          await this.#core.createNamespacedSecret({ namespace: this.#namespace, body });
        else await this.#core.replaceNamespacedSecret({ name: this.#name, namespace: this.#namespace, body });
      } catch (error) {
        if (apiErrorStatus(error)?.code !== 409 || attempt >= 5) throw error;
        this.#log.info(
          { secret: this.#name, attempt },
          "Another replica wrote the certificate Secret first; re-reading",
        );
        continue;
      }
      this.#log.info(
        {
          secret: `${this.#namespace}/${this.#name}`,
          ca: plan.ca,
          serving: plan.serving,
          reasons: plan.reasons,
        },
        "Issued webhook certificates",
      );
      const settled = planCertificates(next, names.sans, now, policy);
      return { material: next, nextCheck: settled.nextCheck, wrote: true };
    }
  }

  async #read(): Promise<V1Secret | undefined> {
    try {
      return await this.#core.readNamespacedSecret({ name: this.#name, namespace: this.#namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}
