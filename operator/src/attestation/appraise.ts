/**
 * The one entry point of attestation, used by the controller and by `trustgate verify`: parse → verify (TEE, GPUs,
 * binding) → appraise (policy, assignment) → verdict. Never throws on evidence; every failure is an error code.
 */
import { base64url } from "jose";
import { expectedReportData, gpuNonce, keyThumbprint } from "./binding.ts";
import { parseBundle } from "./bundle.ts";
import { withDeadline } from "./collateral/deadline.ts";
import { appraiseGpus, blockingGpuErrors, gpuSourcesOf, type GpuAssignment } from "./gpu/appraise-gpus.ts";
import { appraiseGpuSystem, type GpuCcMode } from "./gpu/appraise-gpu-system.ts";
import { gpuSystemProvenanceViolations } from "./gpu/gpu-system-signature.ts";
import type { CompiledPolicy } from "./policy/compiled-policy.ts";
import type {
  AppraisalWarning,
  Claims,
  CollateralSource,
  EvidenceBundle,
  GpuEvidenceVerifier,
  GpuResult,
  PolicyViolation,
  TcbStatus,
  TeeBackend,
  TeeVerification,
  Verdict,
  VerificationError,
} from "./types.ts";
import { toVerificationError } from "./types.ts";
import { decideVerdict } from "./verdict.ts";
import { eventRows, type EventRow } from "./tdx/event-log/claims.ts";

export type TeeType = "tdx" | "snp";

/** What `trustgate verify` prints and what the controller turns into `status.attestation`. */
export interface Appraisal {
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
    /** TDX: every event of the replayed event log (CCEL), with the claim it counts as. */
    events?: EventRow[];
  };
  gpus: GpuResult[];
  policy: { violations: (PolicyViolation & { code: "PolicyViolation" })[] };
  /** Why the verdict is at best a warning, and whether the policy tolerates it. */
  warnings: AppraisalWarning[];
  /** The challenge the bundle answers and the RFC 7638 thumbprint (base64url) of the guest key it binds. */
  evidence: { nonce: string; keyThumbprint: string };
}

/** The verifiers: TEE backends by type, the GPU verifier, and where collateral missing from evidence comes from. */
export interface AttestationBackends {
  tees: Partial<Record<TeeType, TeeBackend>>;
  gpus?: GpuEvidenceVerifier;
  collateral?: CollateralSource;
  /** One deadline for all collateral fetches of an appraisal (the controller's `--collateral-deadline`). */
  collateralDeadlineMs?: number;
  /** See VerifyOptions.collateralGraceMs. */
  collateralGraceMs?: number;
}

export interface AppraisalContext {
  now: Date;
  backends: AttestationBackends;
  /** The open challenge (hex) the bundle must answer; without it the binding is reported, not enforced. */
  nonce?: string;
  /** The TEE the CVM asked for (`spec.tee`): evidence of another TEE is contraindicated (TeeMismatch). */
  expectedTee?: TeeType;
  /** A bundle whose JSON is larger is refused unread (EvidenceTooLarge). */
  maxEvidenceBytes?: number;
  /** The GPUs assigned to the CVM, when the caller knows them. */
  assignment?: GpuAssignment;
  /** Warnings only the caller can know of (the controller: a GPU allocation it refuses). */
  callerWarnings?: readonly AppraisalWarning[];
  /**
   * The CC mode of the host the CVM was placed on: the GPUs' reported mode (`gpuSystem`) must be this one, and a
   * bundle with GPUs must carry that state signed by the guest key. Without it (`trustgate verify`), `on` and `ppcie`
   * both pass and a bundle without the state is accepted.
   */
  expectedGpuMode?: GpuCcMode;
}

function declaredTee(value: unknown): string {
  const type = (value as { tee?: { type?: unknown } } | null)?.tee?.type;
  return typeof type === "string" ? type : "unknown";
}

function declaredNonce(value: unknown): string {
  const nonce = (value as { nonce?: unknown } | null)?.nonce;
  return typeof nonce === "string" ? nonce : "";
}

function contraindicated(value: unknown, errors: VerificationError[]): Appraisal {
  return {
    verdict: "contraindicated",
    tee: {
      type: declaredTee(value),
      authentic: false,
      tcbStatus: "Unknown",
      advisoryIds: [],
      claims: {},
      errors,
      binding: "unknown",
    },
    gpus: [],
    policy: { violations: [] },
    warnings: [],
    evidence: { nonce: declaredNonce(value), keyThumbprint: "" },
  };
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

async function bindingOf(bundle: EvidenceBundle, claims: Claims): Promise<Appraisal["tee"]["binding"]> {
  const reportData = claims["reportData"];
  if (typeof reportData !== "string") return "unknown";
  try {
    const expected = await expectedReportData(bundle.nonce, bundle.publicKey);
    return Buffer.from(expected).toString("hex") === reportData ? "match" : "mismatch";
  } catch {
    return "unknown";
  }
}

async function thumbprintOf(bundle: EvidenceBundle): Promise<string> {
  try {
    return base64url.encode(await keyThumbprint(bundle.publicKey));
  } catch {
    return "";
  }
}

/** Checks of the bundle against what the caller expects: the open challenge and the CVM's TEE. */
async function expectationErrors(
  bundle: EvidenceBundle,
  context: AppraisalContext,
): Promise<{ errors: VerificationError[]; reportData?: Uint8Array }> {
  const errors: VerificationError[] = [];
  if (context.expectedTee !== undefined && bundle.tee.type !== context.expectedTee) {
    errors.push({
      code: "TeeMismatch",
      message: `the evidence is ${bundle.tee.type}, the ConfidentialVM asked for ${context.expectedTee}`,
    });
  }
  if (context.nonce === undefined) return { errors };
  if (context.nonce !== bundle.nonce) {
    errors.push({
      code: "NonceMismatch",
      message: `bundle answers nonce ${bundle.nonce}, expected ${context.nonce}`,
    });
  }
  try {
    return { errors, reportData: await expectedReportData(context.nonce, bundle.publicKey) };
  } catch (error) {
    return { errors: [...errors, toVerificationError(error)] };
  }
}

async function verifyTee(
  backend: TeeBackend,
  bundle: EvidenceBundle,
  context: AppraisalContext,
  reportData: Uint8Array | undefined,
): Promise<TeeVerification> {
  const { collateralDeadlineMs, collateralGraceMs } = context.backends;
  const shared = context.backends.collateral;
  const collateral =
    shared === undefined || collateralDeadlineMs === undefined
      ? shared
      : withDeadline(shared, collateralDeadlineMs);
  try {
    return await backend.verifier.verify(bundle.tee, {
      now: context.now,
      ...(collateral === undefined ? {} : { collateral }),
      ...(collateralGraceMs === undefined ? {} : { collateralGraceMs }),
      ...(reportData === undefined ? {} : { expectedReportData: reportData }),
    });
  } catch (error) {
    return {
      type: bundle.tee.type,
      authentic: false,
      tcbStatus: "Unknown",
      advisoryIds: [],
      claims: {},
      errors: [toVerificationError(error)],
    };
  }
}

function tooLarge(value: unknown, limit: number | undefined): VerificationError | undefined {
  if (limit === undefined) return undefined;
  // JSON.stringify(undefined) is undefined: no evidence is 0 bytes.
  const size = value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
  if (size <= limit) return undefined;
  const eventLog = (value as { tee?: { eventLog?: unknown } } | null)?.tee?.eventLog;
  const part = typeof eventLog === "string" ? `, of which tee.eventLog is ${eventLog.length}` : "";
  return {
    code: "EvidenceTooLarge",
    message: `status.evidence is ${size} bytes of JSON${part}, more than the limit of ${limit} (--max-evidence-bytes); not verified`,
  };
}

/** Whether the policy pins what the guest booted: MRTD, an RTMR or MRSEAM for TDX; MEASUREMENT for SNP. */
export function measurementsPinned(policy: CompiledPolicy, tee: TeeType): boolean {
  if (tee === "snp") return policy.snp.measurement !== undefined;
  const { mrTd, rtmr0, rtmr1, rtmr2, rtmr3, mrSeam } = policy.tdx;
  return [mrTd, rtmr0, rtmr1, rtmr2, rtmr3, mrSeam].some((pin) => pin !== undefined);
}

function warningsOf(
  bundle: EvidenceBundle,
  policy: CompiledPolicy,
  context: AppraisalContext,
  tee: TeeVerification,
  binding: Appraisal["tee"]["binding"],
): AppraisalWarning[] {
  const warnings: AppraisalWarning[] = [];
  if (tee.staleCollateral !== undefined && tee.staleCollateral.length > 0) {
    // The operator chose the grace (--collateral-stale-grace) to ride out a service outage; it is reported, not fatal.
    warnings.push({
      code: "CollateralStale",
      message: `${tee.staleCollateral.join("; ")} (the collateral service could not be reached for a newer one)`,
      tolerated: true,
    });
  }
  if (!measurementsPinned(policy, bundle.tee.type)) {
    warnings.push({
      code: "MeasurementsUnpinned",
      message:
        `AttestationPolicy ${policy.name} pins no ${bundle.tee.type === "tdx" ? "mrTd, rtmr0-3 or mrSeam" : "measurement"}: ` +
        `any genuine ${bundle.tee.type === "tdx" ? "TD" : "SNP guest"} passes, whatever it booted` +
        (policy.allowUnpinnedMeasurements ? " (allowed by spec.allowUnpinnedMeasurements)" : ""),
      tolerated: policy.allowUnpinnedMeasurements,
    });
  }
  if (context.nonce === undefined) {
    warnings.push(
      binding === "mismatch"
        ? {
            code: "BindingMismatch",
            message: "REPORTDATA does not bind the bundle's nonce and key (no challenge given to enforce it)",
            tolerated: false,
          }
        : {
            code: "BindingUnchecked",
            message:
              "no challenge given: the evidence may answer anyone's nonce (give --nonce to enforce it)",
            tolerated: false,
          },
    );
  }
  return warnings;
}

/** parse → verify → appraise → verdict, for one evidence bundle under one compiled policy. */
export async function appraise(
  value: unknown,
  policy: CompiledPolicy,
  context: AppraisalContext,
): Promise<Appraisal> {
  const oversized = tooLarge(value, context.maxEvidenceBytes);
  if (oversized !== undefined) return contraindicated(value, [oversized]);
  const parsed = parseBundle(value);
  if (!parsed.ok) return contraindicated(value, parsed.errors);
  const { bundle } = parsed;
  const backend = context.backends.tees[bundle.tee.type];
  if (backend === undefined) {
    return contraindicated(value, [
      { code: "UnsupportedTee", message: `no verifier for TEE type ${bundle.tee.type}` },
    ]);
  }

  const expectations = await expectationErrors(bundle, context);
  const tee = await verifyTee(backend, bundle, context, expectations.reportData);
  const { reportData } = expectations;
  const gpus =
    context.backends.gpus === undefined
      ? unverifiedGpus(bundle)
      : await context.backends.gpus.verify(bundle.gpus ?? [], {
          now: context.now,
          sources: gpuSourcesOf(policy.gpu),
          ...(reportData === undefined ? {} : { expectedNonce: gpuNonce(reportData) }),
        });
  const violations = [
    ...(tee.authentic ? backend.appraise(tee, policy) : []),
    ...appraiseGpus(gpus, policy.gpu, context.assignment),
    ...(await gpuSystemProvenanceViolations(bundle, context.expectedGpuMode !== undefined)),
    ...appraiseGpuSystem(bundle.gpuSystem, bundle.gpus?.length ?? 0, policy.gpu, {
      policyName: policy.name,
      ...(context.expectedGpuMode === undefined ? {} : { expectedMode: context.expectedGpuMode }),
    }),
  ];
  const teeErrors = [...expectations.errors, ...tee.errors];
  const binding = await bindingOf(bundle, tee.claims);
  const warnings = [...warningsOf(bundle, policy, context, tee, binding), ...(context.callerWarnings ?? [])];
  const verdict = decideVerdict({
    authentic: tee.authentic,
    errorCount: teeErrors.length,
    tcbStatus: tee.tcbStatus,
    acceptedTcbStatuses: bundle.tee.type === "tdx" ? policy.tdx.acceptedTcbStatuses : ["UpToDate"],
    policyViolationCount: violations.length,
    gpus: gpus.map((g) => ({
      authentic: g.authentic,
      errorCount: blockingGpuErrors(g.errors, policy.gpu).length,
      revocation: g.revocation,
      measurements: g.measurements,
    })),
    revocationRequired: policy.gpu.requireRevocationCheck,
    rimRequired: policy.gpu.requireRimMatch,
    warningCount: warnings.length,
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
      binding,
      ...(tee.eventLog?.claims === undefined ? {} : { events: eventRows(tee.eventLog.claims) }),
    },
    gpus,
    policy: { violations: violations.map((v) => ({ code: "PolicyViolation" as const, ...v })) },
    warnings,
    evidence: { nonce: bundle.nonce, keyThumbprint: await thumbprintOf(bundle) },
  };
}
