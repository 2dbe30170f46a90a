import { type CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import type {
  AttestationPolicy,
  AttestationPolicyStatus,
  ConfidentialVM,
} from "../../api/v1alpha1/generated/types.ts";
import { ATTESTATION_POLICY, GROUP, VERSION } from "../../api/v1alpha1/generated/types.ts";
import { setCondition } from "../../runtime/conditions.ts";
import type { ReconcileContext, Reconciler, ReconcileResult } from "../../runtime/controller.ts";
import { policyConditions } from "./decide.ts";

export interface PolicyReconcilerDeps {
  policies: { get(name: string): AttestationPolicy | undefined };
  cvms: { list(): readonly ConfidentialVM[] };
  objects: CustomObjectsApi;
  now?: () => Date;
}

/** The status an AttestationPolicy should show: observedGeneration, Ready, MeasurementsPinned, CVMs using it. */
export function desiredPolicyStatus(
  policy: AttestationPolicy,
  cvms: readonly ConfidentialVM[],
  now: Date,
): AttestationPolicyStatus {
  const name = policy.metadata.name;
  let conditions = policy.status?.conditions ?? [];
  for (const desired of policyConditions(policy))
    conditions = setCondition(conditions, desired, policy.metadata.generation, now);
  return {
    ...(policy.metadata.generation === undefined ? {} : { observedGeneration: policy.metadata.generation }),
    conditions,
    confidentialVMs: cvms.filter((cvm) => cvm.spec.policyRef === name).length,
  };
}

/** Reconciles one AttestationPolicy (key = its name): writes its status, only when it changes. */
export class AttestationPolicyReconciler implements Reconciler {
  readonly name = "attestationpolicy";
  readonly #deps: PolicyReconcilerDeps;

  constructor(deps: PolicyReconcilerDeps) {
    this.#deps = deps;
  }

  async reconcile(name: string, { log }: ReconcileContext): Promise<ReconcileResult> {
    const policy = this.#deps.policies.get(name);
    if (policy === undefined) return {};
    const now = (this.#deps.now ?? (() => new Date()))();
    const status = desiredPolicyStatus(policy, this.#deps.cvms.list(), now);
    if (isDeepStrictEqual(status, { ...policy.status, conditions: policy.status?.conditions ?? [] }))
      return {};
    await this.#deps.objects.patchClusterCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: ATTESTATION_POLICY.plural,
        name,
        body: { metadata: { resourceVersion: policy.metadata.resourceVersion }, status },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    log.info({ confidentialVMs: status.confidentialVMs }, "Patched AttestationPolicy status");
    return {};
  }
}
