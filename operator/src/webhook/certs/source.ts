import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { AdmissionregistrationV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ensureCaBundle } from "./ca-bundle.ts";
import type { RotationPolicy } from "./rotation.ts";
import { CertificateSecret, SECRET_KEYS } from "./secret-store.ts";
import type { KeyPairPem } from "./x509.ts";

/** Where the serving certificate comes from; `start` resolves with the first one, later ones go to onChange. */
export interface CertificateSource {
  start(onChange: (certificate: KeyPairPem) => void): Promise<KeyPairPem>;
  stop(): void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

const same = (a: KeyPairPem | undefined, b: KeyPairPem): boolean =>
  a !== undefined && a.certPem === b.certPem && a.keyPem === b.keyPem;

/**
 * A loop that keeps a certificate current: `step` returns the certificate and how long to wait before the
 * next step; errors are logged and retried with backoff. `start` resolves after the first successful step.
 */
abstract class Loop implements CertificateSource {
  readonly #stop = new AbortController();
  protected readonly log: Logger;
  #current: KeyPairPem | undefined;

  constructor(log: Logger) {
    this.log = log;
  }

  protected abstract step(): Promise<{ certificate: KeyPairPem; waitMs: number }>;

  start(onChange: (certificate: KeyPairPem) => void): Promise<KeyPairPem> {
    return new Promise<KeyPairPem>((resolve, reject) => {
      const run = async (): Promise<void> => {
        let backoffMs = 1_000;
        while (!this.#stop.signal.aborted) {
          let waitMs: number;
          try {
            const result = await this.step();
            backoffMs = 1_000;
            waitMs = result.waitMs;
            if (!same(this.#current, result.certificate)) {
              const first = this.#current === undefined;
              this.#current = result.certificate;
              if (first) resolve(result.certificate);
              else onChange(result.certificate);
            }
          } catch (error) {
            this.log.warn(
              { err: error, retryInMs: backoffMs },
              "Could not get the webhook's serving certificate",
            );
            waitMs = backoffMs;
            backoffMs = Math.min(backoffMs * 2, 30_000);
          }
          await sleep(waitMs, this.#stop.signal);
        }
      };
      run().catch(reject);
    });
  }

  stop(): void {
    this.#stop.abort();
  }
}

export interface SelfManagedOptions {
  core: CoreV1Api;
  admission: AdmissionregistrationV1Api;
  namespace: string;
  secretName: string;
  /** ValidatingWebhookConfigurations whose caBundle this webhook keeps. */
  webhookConfigurations: readonly string[];
  caName: string;
  sans: readonly string[];
  policy: RotationPolicy;
  /** Longest wait between checks of the Secret and the caBundles (default 1 minute). */
  checkIntervalMs?: number;
  log: Logger;
  now?: () => Date;
}

/** CA and serving certificate in a Secret, caBundle patched into the webhook configurations, rotated before expiry. */
export class SelfManagedCertificates extends Loop {
  readonly #options: SelfManagedOptions;
  readonly #secret: CertificateSecret;

  constructor(options: SelfManagedOptions) {
    super(options.log);
    this.#options = options;
    this.#secret = new CertificateSecret(options.core, options.namespace, options.secretName, options.log);
  }

  protected async step(): Promise<{ certificate: KeyPairPem; waitMs: number }> {
    const o = this.#options;
    const now = o.now?.() ?? new Date();
    const { material, nextCheck } = await this.#secret.ensure(
      { caName: o.caName, sans: o.sans },
      o.policy,
      now,
    );
    if (material.serving === undefined || material.caBundle === undefined) {
      throw new Error(`Secret ${o.namespace}/${o.secretName} has no serving certificate after issuing one`);
    }
    // The caBundle first: a replica serves a certificate only once the configurations trust its CA.
    const { missing } = await ensureCaBundle(
      o.admission,
      o.webhookConfigurations,
      material.caBundle,
      this.log,
    );
    const interval = o.checkIntervalMs ?? 60_000;
    if (missing.length > 0) {
      this.log.warn(
        { missing },
        "ValidatingWebhookConfiguration not found (yet); will patch its caBundle when it appears",
      );
    }
    const untilRotation = Math.max(nextCheck.getTime() - now.getTime(), 0) + 50;
    const waitMs = Math.min(untilRotation, missing.length > 0 ? Math.min(interval, 2_000) : interval);
    return { certificate: material.serving, waitMs };
  }
}

/** tls.crt and tls.key from a directory (a mounted cert-manager Secret), re-read every interval. */
export class DirectoryCertificates extends Loop {
  readonly #dir: string;
  readonly #intervalMs: number;

  constructor(dir: string, log: Logger, intervalMs = 10_000) {
    super(log);
    this.#dir = dir;
    this.#intervalMs = intervalMs;
  }

  protected async step(): Promise<{ certificate: KeyPairPem; waitMs: number }> {
    const [certPem, keyPem] = await Promise.all([
      readFile(join(this.#dir, SECRET_KEYS.cert), "utf8"),
      readFile(join(this.#dir, SECRET_KEYS.key), "utf8"),
    ]);
    return { certificate: { certPem, keyPem }, waitMs: this.#intervalMs };
  }
}
