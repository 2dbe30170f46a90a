import type { ConfidentialVM, ConfidentialVMStatusAttestation } from "../../api/v1alpha1/generated/types.ts";
import { appraise, type AttestationBackends } from "../../attestation/appraise.ts";
import type { GpuCcMode } from "../../attestation/gpu/appraise-gpu-system.ts";
import type { CompiledPolicy } from "../../attestation/policy/compiled-policy.ts";
import { attestationResult } from "../../attestation/result/attestation-result.ts";
import type { StoredSigningKey } from "../../attestation/result/signing-keys.ts";

/** Default `--max-evidence-bytes`: far above a TDX or SNP bundle with 8 GPUs, below etcd's request limit. */
export const DEFAULT_MAX_EVIDENCE_BYTES = 1024 * 1024;

export interface CvmAppraisalContext {
  /** A larger `status.evidence` (its JSON, in bytes) is refused unread. */
  maxEvidenceBytes: number;
  backends: AttestationBackends;
  /** GPU identities attested by other live ConfidentialVMs, with their `ns/name`. */
  gpuIdentitiesElsewhere: ReadonlyMap<string, string>;
  signingKey: StoredSigningKey;
  issuer: string;
  subject: string;
  now: Date;
  /**
   * The CC mode of the host the CVM was placed on, which the GPUs' reported mode must match. Default `on`: every
   * validated host runs its GPUs in CC mode `on` today; a protected-PCIe host passes `ppcie` once hosts report it.
   */
  gpuMode?: GpuCcMode;
}

/**
 * Appraises the guest's answer to the CVM's open challenge, bound to what the CVM is: its TEE, its assigned GPUs and
 * GPU identities no other CVM holds. Returns the new `status.attestation`, signed when the verdict is tolerated.
 */
export async function appraiseCvm(
  cvm: ConfidentialVM,
  policy: CompiledPolicy,
  ctx: CvmAppraisalContext,
): Promise<ConfidentialVMStatusAttestation> {
  const nonce = cvm.status?.challenge?.nonce ?? "";
  const assigned = cvm.status?.gpus ?? [];
  const appraisal = await appraise(cvm.status?.evidence, policy, {
    now: ctx.now,
    backends: ctx.backends,
    nonce,
    expectedTee: cvm.spec.tee,
    maxEvidenceBytes: ctx.maxEvidenceBytes,
    assignment: { gpus: assigned.length, identitiesElsewhere: ctx.gpuIdentitiesElsewhere },
    expectedGpuMode: ctx.gpuMode ?? "on",
  });
  return attestationResult(appraisal, {
    issuer: ctx.issuer,
    subject: ctx.subject,
    signingKey: ctx.signingKey,
    now: ctx.now,
    resultTtlMs: policy.freshness.resultTtlMs,
    nonce,
    pciAddresses: assigned.map((gpu) => gpu.pciAddress),
    ...(cvm.status?.vmInstanceUid === undefined ? {} : { vmInstanceUid: cvm.status.vmInstanceUid }),
    policy: {
      name: policy.name,
      ...(policy.uid === undefined ? {} : { uid: policy.uid }),
      ...(policy.generation === undefined ? {} : { generation: policy.generation }),
    },
  });
}
