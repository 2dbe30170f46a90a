/**
 * Shared vocabulary of the evidence verifiers (docs/evidence-bundle.md): parse → verify → appraise.
 * Verifiers turn evidence into claims and errors; appraisal compares claims to an AttestationPolicy.
 */
import { ATTESTATION_POLICY_SCHEMA } from "../api/v1alpha1/generated/schemas.ts";
import type {
  AttestationPolicySpecTdx,
  ConfidentialVMStatusEvidence,
  ConfidentialVMStatusEvidenceTee,
} from "../api/v1alpha1/generated/types.ts";
import type { CompiledPolicy } from "./policy/compiled-policy.ts";
import type { EventLogVerification } from "./tdx/event-log/index.ts";

/** Stable error codes of `trustgate verify` and of condition reasons. */
export const ERROR_CODES = [
  "EvidenceMalformed",
  "SignatureInvalid",
  "ChainInvalid",
  "CertificateExpired",
  "CertificateRevoked",
  "CollateralExpired",
  "CollateralMissing",
  "CollateralUnavailable",
  "TcbNotAccepted",
  "NonceMismatch",
  "BindingMismatch",
  "MeasurementMismatch",
  "EventLogMismatch",
  "RimUnavailable",
  "PolicyViolation",
  "DuplicateGpu",
  "TeeMismatch",
  "EvidenceTooLarge",
  "UnsupportedTee",
  "VerifierUnavailable",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface VerificationError {
  code: ErrorCode;
  message: string;
}

/**
 * Why an authentic, policy-conformant result is at best a warning. `tolerated` says whether the policy accepts it
 * (e.g. `allowUnpinnedMeasurements`); an untolerated warning keeps a CVM from being Attested.
 */
export const WARNING_CODES = [
  "MeasurementsUnpinned",
  "BindingUnchecked",
  "BindingMismatch",
  "CollateralStale",
  "GpuAllocationRefused",
] as const;
export type WarningCode = (typeof WARNING_CODES)[number];

export interface AppraisalWarning {
  code: WarningCode;
  message: string;
  tolerated: boolean;
}

/** Thrown inside parsers and verifiers; the verifier boundary turns it into a VerificationError. */
export class EvidenceError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export function toVerificationError(error: unknown): VerificationError {
  if (error instanceof EvidenceError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: "EvidenceMalformed", message };
}

/** The TCB statuses a policy may accept: the enum of the CRD's spec.tdx.acceptedTcbStatuses. */
export type AcceptableTcbStatus = NonNullable<AttestationPolicySpecTdx["acceptedTcbStatuses"]>[number];

/** The TCB status Intel's collateral gives a platform (a TCB level's `tcbStatus`): an acceptable one, or Revoked. */
export type PlatformTcbStatus = AcceptableTcbStatus | "Revoked";
export const PLATFORM_TCB_STATUSES: readonly PlatformTcbStatus[] = [...acceptableTcbStatuses(), "Revoked"];

function acceptableTcbStatuses(): AcceptableTcbStatus[] {
  const tdx = ATTESTATION_POLICY_SCHEMA.properties?.["spec"]?.properties?.["tdx"];
  const statuses = tdx?.properties?.["acceptedTcbStatuses"]?.items?.enum;
  if (statuses === undefined)
    throw new Error("the AttestationPolicy CRD lists no spec.tdx.acceptedTcbStatuses");
  return statuses as AcceptableTcbStatus[];
}

/** Intel's TCB status names; `Unknown` when collateral is missing or outside its validity window. */
export type TcbStatus = PlatformTcbStatus | "NotSupported" | "Unknown";

export type ClaimValue = string | number | boolean | ClaimValue[] | { [key: string]: ClaimValue };
export type Claims = Record<string, ClaimValue>;

/** What a TEE verifier concludes (the `tee` object of `trustgate verify`). */
export interface TeeVerification {
  type: "tdx" | "snp";
  /** Signatures and certificate chains verify to the pinned anchors as of `now`. */
  authentic: boolean;
  /** TDX: Intel's TCB status. SNP: `UpToDate` when authentic (AMD has no TCB status), else `Unknown`. */
  tcbStatus: TcbStatus;
  advisoryIds: string[];
  claims: Claims;
  errors: VerificationError[];
  /** Collateral past its nextUpdate but within the operator's grace (`collateralGraceMs`): a warning, not an error. */
  staleCollateral?: string[];
  /** TDX: the replayed event log (CCEL) of the bundle, or why there is none. */
  eventLog?: EventLogVerification;
}

export type TeeEvidence = ConfidentialVMStatusEvidenceTee;
export type EvidenceBundle = ConfidentialVMStatusEvidence;

/** A source of collateral (Intel PCS/PCCS, AMD KDS, offline directory), each behind a cache. */
export interface CollateralSource {
  /** Fetches a named collateral item; undefined when the source does not have it. */
  get(kind: string, key: string): Promise<Uint8Array | undefined>;
}

export interface VerifyOptions {
  /** Verification time: certificate validity, CRL and collateral windows. */
  now: Date;
  /** Where collateral missing from the evidence comes from; evidence collateral is still verified. */
  collateral?: CollateralSource;
  /** Expected REPORTDATA / REPORT_DATA (64 bytes); when unset the binding is reported, not enforced. */
  expectedReportData?: Uint8Array;
  /**
   * How long past its nextUpdate collateral is still accepted, as a CollateralStale warning (the controller's
   * `--collateral-stale-grace`, for a service that is unreachable for a while). Default 0: expired is an error.
   */
  collateralGraceMs?: number;
}

/** One verifier per TEE type, kept in a registry (trustee's `to_verifier`). */
export interface TeeVerifier {
  readonly type: "tdx" | "snp";
  verify(evidence: TeeEvidence, options: VerifyOptions): Promise<TeeVerification>;
}

export interface PolicyViolation {
  /** The policy field, e.g. `spec.tdx.mrTd`. */
  field: string;
  expected: string[];
  actual: string;
  message: string;
}

/** Pure appraisal of a TEE's claims against the (compiled) policy. */
export type TeeAppraiser = (verification: TeeVerification, policy: CompiledPolicy) => PolicyViolation[];

export interface TeeBackend {
  verifier: TeeVerifier;
  appraise: TeeAppraiser;
}

/** One GPU's or NVSwitch's verification (the `gpus[]` of `trustgate verify`). */
export interface GpuResult {
  index: number;
  authentic: boolean;
  nonce: string;
  driverVersion: string;
  vbiosVersion: string;
  measurements: "match" | "mismatch" | "unchecked";
  revocation: "good" | "revoked" | "unchecked";
  errors: VerificationError[];
  /** From the verified device certificate: `gpu` or `switch` (NVSwitch). */
  deviceType?: "gpu" | "switch";
  /** The device's UEID from the verified leaf certificate (as NRAS reports it). */
  ueid?: string;
  /** SHA-256 (hex) of the verified device identity (BROM) certificate: what "the same GPU" means. */
  deviceIdentity?: string;
  /**
   * NVLink topology from the signed opaque data (PPCIe): a GPU's `switchPdis` (the switches its links reach), a
   * switch's own `pdi` and its `gpuPdis`; hex, in the switch's byte order. Absent when the report carries none.
   */
  topology?: { pdi?: string; switchPdis?: string[]; gpuPdis?: string[] };
}

/** Where the GPU verification fetches what the evidence lacks (RIM service, OCSP responder, NRAS). */
export interface GpuVerificationSources {
  mode: "local" | "remote";
  rimServiceUrl?: string;
  ocspUrl?: string;
  nrasUrl?: string;
  /** An OCSP or NRAS `certificateHold` counts as good rather than revoked. */
  allowCertificateHold: boolean;
}

export interface GpuEvidenceVerifier {
  verify(
    gpus: NonNullable<EvidenceBundle["gpus"]>,
    options: { now: Date; expectedNonce?: Uint8Array; sources?: GpuVerificationSources },
  ): Promise<GpuResult[]>;
}

export type Verdict = "affirming" | "warning" | "contraindicated";
