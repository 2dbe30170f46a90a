import type { AttestationPolicySpec } from "../api/v1alpha1/generated/types.ts";
import { expectedReportData } from "./binding.ts";
import { parseBundle } from "./bundle.ts";
import type {
  Claims,
  CollateralSource,
  EvidenceBundle,
  PolicyViolation,
  TcbStatus,
  TeeAppraiser,
  TeeVerification,
  TeeVerifier,
  Verdict,
  VerificationError,
} from "./types.ts";
import { toVerificationError } from "./types.ts";
import {
  appraiseGpus,
  blockingGpuErrors,
  revocationCheckRequired,
  rimMatchRequired,
} from "./gpu/appraise.ts";
import { decideVerdict } from "./verdict.ts";

export interface GpuResult {
  index: number;
  authentic: boolean;
  nonce: string;
  driverVersion: string;
  vbiosVersion: string;
  measurements: "match" | "mismatch" | "unchecked";
  revocation: "good" | "revoked" | "unchecked";
  errors: VerificationError[];
}

/** The JSON `trustgate verify` prints (docs/evidence-bundle.md#output, docs/schemas/verify-output.schema.json). */
export interface VerifyReport {
  verdict: Verdict;
  tee: {
    type: string;
    authentic: boolean;
    tcbStatus: TcbStatus;
    advisoryIds: string[];
    claims: Claims;
    errors: VerificationError[];
    /** Whether REPORTDATA binds the bundle's own nonce and key; enforced only with an expected nonce. */
    binding: "match" | "mismatch" | "unknown";
  };
  gpus: GpuResult[];
  policy: { violations: (PolicyViolation & { code: "PolicyViolation" })[] };
}

export interface TeeBackend {
  verifier: TeeVerifier;
  appraise: TeeAppraiser;
}

export interface GpuEvidenceVerifier {
  verify(
    gpus: NonNullable<EvidenceBundle["gpus"]>,
    options: { now: Date; expectedNonce?: Uint8Array; policy?: AttestationPolicySpec["gpu"] },
  ): Promise<GpuResult[]>;
}

export interface BundleVerifyOptions {
  now: Date;
  policy: AttestationPolicySpec;
  /** The challenge the bundle must answer (hex); without it the binding is reported, not enforced. */
  nonce?: string;
  collateral?: CollateralSource;
  tees: Partial<Record<"tdx" | "snp", TeeBackend>>;
  gpus?: GpuEvidenceVerifier;
  /** GPUs assigned to the CVM, when the caller knows: the bundle must hold evidence of each exactly once. */
  assignedGpus?: number;
}

function unverifiedGpus(bundle: EvidenceBundle): GpuResult[] {
  return (bundle.gpus ?? []).map((gpu, index) => ({
    index,
    authentic: false,
    nonce: "",
    driverVersion: gpu.driverVersion ?? "",
    vbiosVersion: gpu.vbiosVersion ?? "",
    measurements: "unchecked",
    revocation: "unchecked",
    errors: [{ code: "VerifierUnavailable", message: "no GPU evidence verifier is configured" }],
  }));
}

function contraindicated(type: string, errors: VerificationError[]): VerifyReport {
  return {
    verdict: "contraindicated",
    tee: {
      type,
      authentic: false,
      tcbStatus: "Unknown",
      advisoryIds: [],
      claims: {},
      errors,
      binding: "unknown",
    },
    gpus: [],
    policy: { violations: [] },
  };
}

async function bindingOf(bundle: EvidenceBundle, claims: Claims): Promise<"match" | "mismatch" | "unknown"> {
  const reportData = claims["reportData"];
  if (typeof reportData !== "string") return "unknown";
  try {
    const expected = await expectedReportData(bundle.nonce, bundle.publicKey);
    return Buffer.from(expected).toString("hex") === reportData ? "match" : "mismatch";
  } catch {
    return "unknown";
  }
}

/** parse → verify (TEE, GPUs, binding) → appraise → verdict. Never throws on evidence. */
export async function verifyBundle(value: unknown, options: BundleVerifyOptions): Promise<VerifyReport> {
  const parsed = parseBundle(value);
  const rawType = (value as { tee?: { type?: unknown } } | null)?.tee?.type;
  const declaredType = typeof rawType === "string" ? rawType : "unknown";
  if (!parsed.ok) return contraindicated(declaredType, parsed.errors);
  const { bundle } = parsed;
  const backend = options.tees[bundle.tee.type];
  if (backend === undefined) {
    return contraindicated(bundle.tee.type, [
      { code: "UnsupportedTee", message: `no verifier for TEE type ${bundle.tee.type}` },
    ]);
  }

  const errors: VerificationError[] = [];
  let expected: Uint8Array | undefined;
  if (options.nonce !== undefined) {
    if (options.nonce !== bundle.nonce) {
      errors.push({
        code: "NonceMismatch",
        message: `bundle answers nonce ${bundle.nonce}, expected ${options.nonce}`,
      });
    }
    try {
      expected = await expectedReportData(options.nonce, bundle.publicKey);
    } catch (error) {
      errors.push(toVerificationError(error));
    }
  }

  let tee: TeeVerification;
  try {
    tee = await backend.verifier.verify(bundle.tee, {
      now: options.now,
      ...(options.collateral === undefined ? {} : { collateral: options.collateral }),
      ...(expected === undefined ? {} : { expectedReportData: expected }),
    });
  } catch (error) {
    tee = {
      type: bundle.tee.type,
      authentic: false,
      tcbStatus: "Unknown",
      advisoryIds: [],
      claims: {},
      errors: [toVerificationError(error)],
    };
  }
  const gpus =
    options.gpus === undefined
      ? unverifiedGpus(bundle)
      : await options.gpus.verify(bundle.gpus ?? [], {
          now: options.now,
          ...(options.policy.gpu === undefined ? {} : { policy: options.policy.gpu }),
          ...(expected === undefined ? {} : { expectedNonce: expected.slice(0, 32) }),
        });
  const violations = [
    ...(tee.authentic ? backend.appraise(tee, options.policy) : []),
    ...appraiseGpus(gpus, options.policy.gpu, {
      ...(options.assignedGpus === undefined ? {} : { assignedGpus: options.assignedGpus }),
    }),
  ];
  const teeErrors = [...errors, ...tee.errors];
  const accepted = (bundle.tee.type === "tdx" ? options.policy.tdx?.acceptedTcbStatuses : undefined) ?? [
    "UpToDate",
  ];
  const verdict = decideVerdict({
    authentic: tee.authentic,
    errorCount: teeErrors.length,
    tcbStatus: tee.tcbStatus,
    acceptedTcbStatuses: accepted,
    policyViolationCount: violations.length,
    gpus: gpus.map((g) => ({
      authentic: g.authentic,
      errorCount: blockingGpuErrors(g.errors, options.policy.gpu).length,
      revocation: g.revocation,
      measurements: g.measurements,
    })),
    revocationRequired: revocationCheckRequired(options.policy.gpu),
    rimRequired: rimMatchRequired(options.policy.gpu),
  });
  return {
    verdict,
    tee: {
      type: tee.type,
      authentic: tee.authentic,
      tcbStatus: tee.tcbStatus,
      advisoryIds: tee.advisoryIds,
      claims: tee.claims,
      errors: teeErrors,
      binding: await bindingOf(bundle, tee.claims),
    },
    gpus,
    policy: { violations: violations.map((v) => ({ code: "PolicyViolation" as const, ...v })) },
  };
}
