import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1ConfigMap,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { AttestationPolicy, ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import { ATTESTATION_POLICY, CONFIDENTIAL_VM, GROUP, VERSION } from "../api/v1alpha1/generated/types.ts";
import { ResourceWatch } from "../runtime/informer.ts";
import { trimForAdmission } from "./cvm-trim.ts";
import { type JwksDocument, jwksFromConfigMap } from "./jwks.ts";
import type { AdmissionView } from "./validate.ts";

export interface WebhookCachesOptions {
  kc: KubeConfig;
  log: Logger;
  /** Namespace and name of the controller's JWKS ConfigMap. */
  jwks: { namespace: string; name: string };
}

/**
 * The webhook's watch caches: every ConfidentialVM and AttestationPolicy, and the one JWKS ConfigMap. The
 * validators read only these (never the API server per request).
 */
export class WebhookCaches {
  readonly #cvms: ResourceWatch<ConfidentialVM>;
  readonly #policies: ResourceWatch<AttestationPolicy>;
  readonly #jwksMap: ResourceWatch<V1ConfigMap>;
  readonly #jwksName: string;
  readonly #jwksNamespace: string;
  #synced = false;
  #jwks: JwksDocument | { error: string } = { error: "the JWKS ConfigMap has not been read yet" };

  constructor(options: WebhookCachesOptions) {
    const { kc, log } = options;
    const objects = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const list =
      <T extends KubernetesObject>(plural: string) =>
      () =>
        objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural }) as Promise<
          KubernetesListObject<T>
        >;
    const apis = `/apis/${GROUP}/${VERSION}`;
    this.#cvms = new ResourceWatch<ConfidentialVM>({
      kc,
      log,
      path: `${apis}/${CONFIDENTIAL_VM.plural}`,
      list: list<ConfidentialVM>(CONFIDENTIAL_VM.plural),
      onEvent: () => undefined,
      trim: trimForAdmission,
    });
    this.#policies = new ResourceWatch<AttestationPolicy>({
      kc,
      log,
      path: `${apis}/${ATTESTATION_POLICY.plural}`,
      list: list<AttestationPolicy>(ATTESTATION_POLICY.plural),
      onEvent: () => undefined,
    });
    // One named ConfigMap: list and watch with a field selector (in the watch path's query string), which
    // RBAC allows with resourceNames, so the webhook cannot read the namespace's other ConfigMaps.
    const { namespace, name } = options.jwks;
    const fieldSelector = `metadata.name=${name}`;
    this.#jwksName = name;
    this.#jwksNamespace = namespace;
    this.#jwksMap = new ResourceWatch<V1ConfigMap>({
      kc,
      log,
      path: `/api/v1/namespaces/${namespace}/configmaps?fieldSelector=${encodeURIComponent(fieldSelector)}`,
      list: () => core.listNamespacedConfigMap({ namespace, fieldSelector }),
      onEvent: () => {
        this.#refreshJwks();
      },
    });
  }

  async start(): Promise<void> {
    await Promise.all([this.#cvms.start(), this.#policies.start(), this.#jwksMap.start()]);
    void Promise.all([this.#cvms.synced(), this.#policies.synced(), this.#jwksMap.synced()]).then(() => {
      this.#refreshJwks();
      this.#synced = true;
    });
  }

  async stop(): Promise<void> {
    await Promise.all([this.#cvms.stop(), this.#policies.stop(), this.#jwksMap.stop()]);
  }

  synced(): boolean {
    return this.#synced;
  }

  jwks(): JwksDocument | { error: string } {
    return this.#jwks;
  }

  view(): AdmissionView {
    return {
      synced: () => this.#synced,
      cvm: (namespace, name) => this.#cvms.get(name, namespace),
      policy: (name) => this.#policies.get(name),
      policyUsers: (policy) => this.#cvms.list().filter((cvm) => cvm.spec.policyRef === policy),
    };
  }

  #refreshJwks(): void {
    this.#jwks = jwksFromConfigMap(this.#jwksMap.get(this.#jwksName, this.#jwksNamespace));
  }
}
