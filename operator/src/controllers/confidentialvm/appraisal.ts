import type {
  AttestationPolicySpec,
  ConfidentialVM,
  ConfidentialVMStatusAttestation,
} from "../../api/v1alpha1/generated/types.ts";
import { keyThumbprint } from "../../attestation/binding.ts";
import { signAttestationResult } from "../../attestation/result/result-token.ts";
import type { StoredSigningKey } from "../../attestation/result/signing-keys.ts";
import type { Claims, Verdict } from "../../attestation/types.ts";
import {
  type BundleVerifyOptions,
  verifyBundle,
  type VerifyReport,
} from "../../attestation/verify-bundle.ts";
import { base64url } from "jose";
import { rfc3339 } from "../../runtime/conditions.ts";

/** Default `--max-evidence-bytes`: far above a TDX or SNP bundle with 8 GPUs, below etcd's request limit. */
export const DEFAULT_MAX_EVIDENCE_BYTES = 1024 * 1024;

export interface AppraisalContext {
  policy: AttestationPolicySpec;
  /** A larger `status.evidence` (its JSON, in bytes) is refused unread. */
  maxEvidenceBytes: number;
  backends: Pick<BundleVerifyOptions, "tees" | "gpus" | "collateral">;
  /** GPU identities attested by other live ConfidentialVMs, with their `ns/name`. */
  gpuIdentitiesElsewhere: ReadonlyMap<string, string>;
  signingKey: StoredSigningKey;
  issuer: string;
  subject: string;
  resultTtlMs: number;
  now: Date;
}

function claimText(value: Claims[string]): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function stringClaims(claims: Claims): Record<string, string> {
  return Object.fromEntries(
    Object.entries(claims)
      .slice(0, 64)
      .map(([k, v]) => [k, claimText(v).slice(0, 4096)]),
  );
}

/** Checks only the ConfidentialVM can make: its assigned GPUs, each exactly once, attested nowhere else. */
function placementViolations(
  cvm: ConfidentialVM,
  report: VerifyReport,
  elsewhere: ReadonlyMap<string, string>,
): string[] {
  const assigned = cvm.status?.gpus?.length ?? 0;
  const problems: string[] = [];
  if (report.gpus.length !== assigned)
    problems.push(`bundle has ${report.gpus.length} GPUs, ${assigned} are assigned`);
  for (const gpu of report.gpus) {
    const identity = (gpu as { ueid?: string }).ueid;
    const other = identity === undefined ? undefined : elsewhere.get(identity);
    if (other !== undefined) problems.push(`GPU ${gpu.index} (${identity ?? ""}) is attested by ${other}`);
  }
  return problems;
}

/** A bundle over the limit is contraindicated before any parser sees it. */
function tooLarge(
  tee: string | undefined,
  nonce: string,
  size: number,
  ctx: AppraisalContext,
): ConfidentialVMStatusAttestation {
  return {
    verifiedAt: rfc3339(ctx.now),
    expiresAt: rfc3339(new Date(ctx.now.getTime() + ctx.resultTtlMs)),
    verdict: "contraindicated",
    nonce,
    ...(tee === "tdx" || tee === "snp" ? { tee: { type: tee } } : {}),
    gpus: [],
    violations: [
      {
        code: "EvidenceTooLarge",
        message: `status.evidence is ${size} bytes of JSON, more than the limit of ${ctx.maxEvidenceBytes} (--max-evidence-bytes); not verified`,
      },
    ],
  };
}

/**
 * Verifies the guest's answer to the current challenge and appraises it against the policy
 * (docs/attestation-handshake.md#3-appraisal). Returns the new `status.attestation`, with a signed result when the
 * verdict is tolerated. Never throws on evidence.
 */
export async function appraiseEvidence(
  cvm: ConfidentialVM,
  ctx: AppraisalContext,
): Promise<ConfidentialVMStatusAttestation> {
  const evidence = cvm.status?.evidence;
  const nonce = cvm.status?.challenge?.nonce ?? "";
  const size = evidence === undefined ? 0 : Buffer.byteLength(JSON.stringify(evidence));
  if (size > ctx.maxEvidenceBytes) return tooLarge(evidence?.tee.type, nonce, size, ctx);
  const report = await verifyBundle(evidence, { now: ctx.now, policy: ctx.policy, nonce, ...ctx.backends });
  const extra = placementViolations(cvm, report, ctx.gpuIdentitiesElsewhere);
  const violations = [
    ...report.tee.errors.map((e) => ({ code: e.code, message: `${report.tee.type}: ${e.message}` })),
    ...report.gpus.flatMap((g) =>
      g.errors.map((e) => ({ code: e.code, message: `GPU ${g.index}: ${e.message}` })),
    ),
    ...report.policy.violations.map((v) => ({ code: v.code, message: `${v.field}: ${v.message}` })),
    ...extra.map((message) => ({ code: "PolicyViolation", message })),
  ].slice(0, 128);
  const verdict: Verdict = extra.length > 0 ? "contraindicated" : report.verdict;
  const expiresAt = new Date(ctx.now.getTime() + ctx.resultTtlMs);
  const thumbprint = evidence === undefined ? "" : base64url.encode(await keyThumbprint(evidence.publicKey));
  const attestation: ConfidentialVMStatusAttestation = {
    verifiedAt: rfc3339(ctx.now),
    expiresAt: rfc3339(expiresAt),
    verdict,
    nonce,
    keyThumbprint: thumbprint,
    tee: {
      type: report.tee.type === "snp" ? "snp" : "tdx",
      tcbStatus: report.tee.tcbStatus,
      advisoryIds: report.tee.advisoryIds,
      claims: stringClaims(report.tee.claims),
    },
    gpus: report.gpus.map((g, i) => ({
      index: g.index,
      ...(cvm.status?.gpus?.[i] === undefined ? {} : { pciAddress: cvm.status.gpus[i].pciAddress }),
      driverVersion: g.driverVersion,
      vbiosVersion: g.vbiosVersion,
      measurements: g.measurements,
      revocation: g.revocation,
      ...((g as { ueid?: string }).ueid === undefined ? {} : { identity: (g as { ueid?: string }).ueid }),
    })),
    violations,
  };
  if (verdict !== "contraindicated") {
    attestation.token = await signAttestationResult(
      {
        issuer: ctx.issuer,
        subject: ctx.subject,
        nonce,
        guestKeyThumbprint: thumbprint,
        verdict,
        submods: {
          cpu: {
            "ear.status": report.tee.authentic ? verdict : "contraindicated",
            claims: report.tee.claims,
          },
          ...Object.fromEntries(
            report.gpus.map((g) => [
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
        },
        issuedAt: ctx.now,
        expiresAt,
      },
      ctx.signingKey,
    );
  }
  return attestation;
}
