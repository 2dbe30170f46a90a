import type { ConfidentialVM, ConfidentialVMStatusAttestation } from "../../api/v1alpha1/generated/types.ts";
import { appraise, type AttestationBackends } from "../../attestation/appraise.ts";
import type { GpuCcMode } from "../../attestation/gpu/appraise-gpu-system.ts";
import { gpuModeOf } from "../../placement/gpu-request.ts";
import type { CompiledPolicy } from "../../attestation/policy/compiled-policy.ts";
import type { AppraisalWarning } from "../../attestation/types.ts";
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
 * What the appraisal knows of the VM's GPUs: how many the evidence must hold (the allocated ones once the host
 * reported them, else the requested ones: `status.gpus` has one entry per GPU either way), what the result says about
 * them, and a refused allocation as an untolerated warning (fail closed: a host whose report cannot be right).
 */
export function gpuAllocationOf(cvm: ConfidentialVM): {
  count: number;
  result: ConfidentialVMStatusAttestation["gpuAllocation"];
  warnings: AppraisalWarning[];
} {
  const gpus = cvm.status?.gpus ?? [];
  const state = cvm.status?.gpuAllocation;
  if (gpus.length === 0 && state === undefined) return { count: 0, result: undefined, warnings: [] };
  const observed = state?.state === "Observed";
  const result = {
    state: state?.state ?? "Unknown",
    ...(observed
      ? { pciAddresses: gpus.flatMap((g) => (g.pciAddress === undefined ? [] : [g.pciAddress])) }
      : {}),
    ...(state?.message === undefined ? {} : { message: state.message }),
  };
  const warnings: AppraisalWarning[] =
    state?.state === "Refused"
      ? [
          {
            code: "GpuAllocationRefused",
            message: state.message ?? "the host's GPU allocation is refused",
            tolerated: false,
          },
        ]
      : [];
  return { count: gpus.length, result, warnings };
}

/**
 * Appraises the guest's answer to the CVM's open challenge, bound to what the CVM is: its TEE, its assigned GPUs (and
 * a PPCIe board's NVSwitches, counted apart) and device identities no other CVM holds. Returns the new `status.attestation`, signed when the verdict is tolerated.
 */
export async function appraiseCvm(
  cvm: ConfidentialVM,
  policy: CompiledPolicy,
  ctx: CvmAppraisalContext,
): Promise<ConfidentialVMStatusAttestation> {
  const nonce = cvm.status?.challenge?.nonce ?? "";
  const allocation = gpuAllocationOf(cvm);
  const appraisal = await appraise(cvm.status?.evidence, policy, {
    now: ctx.now,
    backends: ctx.backends,
    nonce,
    expectedTee: cvm.spec.tee,
    maxEvidenceBytes: ctx.maxEvidenceBytes,
    assignment: {
      gpus: allocation.count,
      nvswitches: cvm.status?.nvswitches?.length ?? 0,
      ppcie: gpuModeOf(cvm) === "ppcie",
      identitiesElsewhere: ctx.gpuIdentitiesElsewhere,
    },
    callerWarnings: allocation.warnings,
    // The GPUs must report the mode of the host the CVM was placed on: a whole PPCIe board, else CC on.
    expectedGpuMode: ctx.gpuMode ?? (gpuModeOf(cvm) === "ppcie" ? "ppcie" : "on"),
  });
  return attestationResult(appraisal, {
    issuer: ctx.issuer,
    subject: ctx.subject,
    signingKey: ctx.signingKey,
    now: ctx.now,
    resultTtlMs: policy.freshness.resultTtlMs,
    nonce,
    ...(allocation.result === undefined ? {} : { gpuAllocation: allocation.result }),
    ...(cvm.status?.vmInstanceUid === undefined ? {} : { vmInstanceUid: cvm.status.vmInstanceUid }),
    policy: {
      name: policy.name,
      ...(policy.uid === undefined ? {} : { uid: policy.uid }),
      ...(policy.generation === undefined ? {} : { generation: policy.generation }),
    },
  });
}
