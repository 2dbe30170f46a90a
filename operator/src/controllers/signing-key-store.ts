import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { isConflict, isNotFound } from "../kube/api-error.ts";
import {
  activeKey,
  publicJwks,
  rotateSigningKeys,
  type KeyRotationPolicy,
  type StoredSigningKey,
} from "../attestation/result/signing-keys.ts";

export const SIGNING_KEYS_SECRET = "trustgate-result-signing-keys";
export const JWKS_CONFIGMAP = "trustgate-jwks";

export const DEFAULT_ROTATION: KeyRotationPolicy = {
  rotateAfterMs: 7 * 24 * 3_600_000,
  retainAfterRotationMs: 24 * 3_600_000,
};

/**
 * The operator's result-signing keys, kept in a Secret in its own namespace (so every replica signs with
 * the same key and restarts keep it), rotated with overlap; the public JWKS is mirrored into a ConfigMap.
 */
export class SigningKeyStore {
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  readonly #log: Logger;
  readonly #rotation: KeyRotationPolicy;
  #keys: readonly StoredSigningKey[] = [];
  #checkedAt = 0;
  /** The sync in flight: concurrent reconciles share it instead of racing each other's creates. */
  #syncing: Promise<void> | undefined;
  readonly #onRotated: (() => void) | undefined;

  constructor(
    core: CoreV1Api,
    namespace: string,
    log: Logger,
    rotation: KeyRotationPolicy = DEFAULT_ROTATION,
    onRotated?: () => void,
  ) {
    this.#onRotated = onRotated;
    this.#core = core;
    this.#namespace = namespace;
    this.#log = log;
    this.#rotation = rotation;
  }

  /** The key to sign with now; loads, creates or rotates the set at most once a minute. */
  async current(now = new Date()): Promise<StoredSigningKey> {
    if (this.#keys.length === 0 || now.getTime() - this.#checkedAt > 60_000) {
      this.#syncing ??= this.#sync(now).finally(() => (this.#syncing = undefined));
      await this.#syncing;
    }
    const key = activeKey(this.#keys);
    if (key === undefined) throw new Error("no result-signing key available");
    return key;
  }

  jwks(): ReturnType<typeof publicJwks> {
    return publicJwks(this.#keys);
  }

  async #sync(now: Date): Promise<void> {
    let stored: readonly StoredSigningKey[] = [];
    let exists = true;
    try {
      const secret = await this.#core.readNamespacedSecret({
        name: SIGNING_KEYS_SECRET,
        namespace: this.#namespace,
      });
      const raw = secret.data?.["keys.json"];
      stored =
        raw === undefined
          ? []
          : (JSON.parse(Buffer.from(raw, "base64").toString("utf8")) as StoredSigningKey[]);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      exists = false;
    }
    const rotated = await rotateSigningKeys(stored, now, this.#rotation);
    if (rotated !== stored) {
      const body = {
        metadata: {
          name: SIGNING_KEYS_SECRET,
          namespace: this.#namespace,
          labels: { "app.kubernetes.io/part-of": "trustgate" },
        },
        type: "Opaque",
        data: { "keys.json": Buffer.from(JSON.stringify(rotated)).toString("base64") },
      };
      try {
        if (exists)
          await this.#core.replaceNamespacedSecret({
            name: SIGNING_KEYS_SECRET,
            namespace: this.#namespace,
            body,
          });
        else await this.#core.createNamespacedSecret({ namespace: this.#namespace, body });
        if (activeKey(rotated)?.kid !== activeKey(stored)?.kid) this.#onRotated?.();
        this.#log.info(
          { keyId: activeKey(rotated)?.kid, keys: rotated.length },
          "Rotated result-signing keys",
        );
      } catch (error) {
        // Another replica wrote first: use what it wrote.
        if (!isConflict(error)) throw error;
        return this.#sync(now);
      }
    }
    this.#keys = rotated;
    this.#checkedAt = now.getTime();
    await this.#publishJwks();
  }

  async #publishJwks(): Promise<void> {
    const body = {
      metadata: {
        name: JWKS_CONFIGMAP,
        namespace: this.#namespace,
        labels: { "app.kubernetes.io/part-of": "trustgate" },
      },
      data: { "jwks.json": JSON.stringify(this.jwks()) },
    };
    const replace = () =>
      this.#core.replaceNamespacedConfigMap({ name: JWKS_CONFIGMAP, namespace: this.#namespace, body });
    try {
      await replace();
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await this.#core.createNamespacedConfigMap({ namespace: this.#namespace, body });
      } catch (createError) {
        // Another replica created it between our replace and our create (AlreadyExists): ours is the newer copy.
        if (!isConflict(createError)) throw createError;
        await replace();
      }
    }
  }
}
