/**
 * From an Appraisal to what the controller writes: the `status.attestation` summary, and, for a tolerated verdict,
 * the signed EAR-style result (the CPU and every GPU as submodules) bound to the guest key.
 */
import type { ConfidentialVMStatusAttestation } from "../../api/v1alpha1/generated/types.ts";
import { rfc3339 } from "../../runtime/conditions.ts";
import type { Appraisal } from "../appraise.ts";
import type { Claims } from "../types.ts";
import { signAttestationResult, type AttestationResultClaims } from "./result-token.ts";
import type { StoredSigningKey } from "./signing-keys.ts";

export interface ResultContext {
  issuer: string;
  /** `namespace/name` of the ConfidentialVM. */
  subject: string;
  signingKey: StoredSigningKey;
  now: Date;
  resultTtlMs: number;
  /** The open challenge the result answers. */
  nonce: string;
  /**
   * The GPUs allocated to the VM (`status.gpuAllocation`, and when Observed their PCI addresses) as a set: which
   * bundle entry is which host GPU the evidence does not say.
   */
  gpuAllocation?: NonNullable<ConfidentialVMStatusAttestation["gpuAllocation"]>;
  /** The AttestationPolicy appraised against. */
  policy: { name: string; uid?: string; generation?: number };
  /** UID of the VirtualMachineInstance that answered: the result holds for that instance only. */
  vmInstanceUid?: string;
}

const MAX_VIOLATIONS = 128;
const MAX_CLAIMS = 64;
const MAX_CLAIM_LENGTH = 4096;

function claimText(value: Claims[string]): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function stringClaims(claims: Claims): Record<string, string> {
  return Object.fromEntries(
    Object.entries(claims)
      .slice(0, MAX_CLAIMS)
      .map(([k, v]) => [k, claimText(v).slice(0, MAX_CLAIM_LENGTH)]),
  );
}

/** Whether the result can stand: a tolerated verdict with no warning the policy does not tolerate. */
export function resultAcceptable(appraisal: Appraisal): boolean {
  return appraisal.verdict !== "contraindicated" && appraisal.warnings.every((w) => w.tolerated);
}

/** Every error, violation and untolerated warning of an appraisal, as `status.attestation.violations` lists them. */
export function violationsOf(appraisal: Appraisal): { code: string; message: string }[] {
  return [
    ...appraisal.warnings.filter((w) => !w.tolerated).map(({ code, message }) => ({ code, message })),
    ...appraisal.tee.errors.map((e) => ({ code: e.code, message: `${appraisal.tee.type}: ${e.message}` })),
    ...appraisal.gpus.flatMap((g) =>
      g.errors.map((e) => ({ code: e.code, message: `GPU ${g.index}: ${e.message}` })),
    ),
    ...appraisal.policy.violations.map((v) => ({ code: v.code, message: `${v.field}: ${v.message}` })),
  ].slice(0, MAX_VIOLATIONS);
}

function submodules(appraisal: Appraisal): AttestationResultClaims["submods"] {
  const { verdict } = appraisal;
  return {
    cpu: {
      "ear.status": appraisal.tee.authentic ? verdict : "contraindicated",
      claims: appraisal.tee.claims,
    },
    ...Object.fromEntries(
      appraisal.gpus.map((g) => [
        `gpu${g.index}`,
        {
          "ear.status": g.authentic ? verdict : "contraindicated",
          claims: {
            driverVersion: g.driverVersion,
            vbiosVersion: g.vbiosVersion,
            measurements: g.measurements,
            revocation: g.revocation,
          },
        },
      ]),
    ),
  };
}

function teeOf(appraisal: Appraisal): { type: string; product?: string } {
  const product = appraisal.tee.claims["product"];
  return { type: appraisal.tee.type, ...(typeof product === "string" ? { product } : {}) };
}

/** The new `status.attestation`: a summary of the appraisal, signed when its verdict is tolerated. */
export async function attestationResult(
  appraisal: Appraisal,
  ctx: ResultContext,
): Promise<ConfidentialVMStatusAttestation> {
  const expiresAt = new Date(ctx.now.getTime() + ctx.resultTtlMs);
  const { verdict } = appraisal;
  const teeType = appraisal.tee.type;
  const tolerated = appraisal.warnings
    .filter((w) => w.tolerated)
    .map(({ code, message }) => ({ code, message: message.slice(0, 4096) }));
  const result: ConfidentialVMStatusAttestation = {
    verifiedAt: rfc3339(ctx.now),
    expiresAt: rfc3339(expiresAt),
    verdict,
    nonce: ctx.nonce,
    keyThumbprint: appraisal.evidence.keyThumbprint,
    ...(teeType === "tdx" || teeType === "snp"
      ? {
          tee: {
            type: teeType,
            tcbStatus: appraisal.tee.tcbStatus,
            advisoryIds: appraisal.tee.advisoryIds,
            claims: stringClaims(appraisal.tee.claims),
          },
        }
      : {}),
    gpus: appraisal.gpus.map((g) => ({
      index: g.index,
      ...(g.deviceType === undefined ? {} : { deviceType: g.deviceType }),
      driverVersion: g.driverVersion,
      vbiosVersion: g.vbiosVersion,
      measurements: g.measurements,
      revocation: g.revocation,
      ...(g.deviceIdentity === undefined ? {} : { identity: g.deviceIdentity }),
    })),
    ...(ctx.gpuAllocation === undefined ? {} : { gpuAllocation: ctx.gpuAllocation }),
    violations: violationsOf(appraisal),
    ...(tolerated.length === 0 ? {} : { warnings: tolerated }),
    ...(ctx.vmInstanceUid === undefined ? {} : { vmInstanceUid: ctx.vmInstanceUid }),
    policyName: ctx.policy.name,
    ...(ctx.policy.uid === undefined ? {} : { policyUid: ctx.policy.uid }),
    ...(ctx.policy.generation === undefined ? {} : { policyGeneration: ctx.policy.generation }),
  };
  if (!resultAcceptable(appraisal)) return result;
  result.token = await signAttestationResult(
    {
      issuer: ctx.issuer,
      subject: ctx.subject,
      nonce: ctx.nonce,
      guestKeyThumbprint: appraisal.evidence.keyThumbprint,
      verdict,
      submods: submodules(appraisal),
      tee: teeOf(appraisal),
      policy: ctx.policy,
      ...(ctx.vmInstanceUid === undefined ? {} : { vmInstanceUid: ctx.vmInstanceUid }),
      ...(ctx.gpuAllocation === undefined
        ? {}
        : {
            gpuAllocation: {
              state: ctx.gpuAllocation.state,
              ...(ctx.gpuAllocation.pciAddresses === undefined
                ? {}
                : { pciAddresses: [...ctx.gpuAllocation.pciAddresses] }),
            },
          }),
      issuedAt: ctx.now,
      expiresAt,
    },
    ctx.signingKey,
  );
  return result;
}
