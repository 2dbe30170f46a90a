/**
 * An AttestationPolicy compiled once: checked as the API server checks it (CRD schema and CEL rules), with the CRD's
 * defaults filled in (the CRD is their only home), and durations parsed. Every reader of a policy takes a
 * CompiledPolicy, so the controller and `trustgate verify --policy` read the same values.
 */
import type {
  AttestationPolicy,
  AttestationPolicySpec,
  AttestationPolicySpecGpu,
  AttestationPolicySpecHost,
  AttestationPolicySpecSnp,
  AttestationPolicySpecTdx,
} from "../../api/v1alpha1/generated/types.ts";
import { API_VERSION, ATTESTATION_POLICY } from "../../api/v1alpha1/generated/types.ts";
import { validateAttestationPolicy, type FieldError } from "../../api/v1alpha1/validation.ts";
import { parseDuration } from "../../runtime/duration.ts";
import type { TcbStatus } from "../types.ts";

type Defaulted<T, K extends keyof T> = Readonly<T & Required<Pick<T, K>>>;

export type HostPolicy = Defaulted<AttestationPolicySpecHost, "requireIommu" | "requireGpuCcMode">;
export type TdxPolicy = Defaulted<
  AttestationPolicySpecTdx,
  "allowDebug" | "allowedAttributes" | "requireSecureBoot" | "unknownEvents"
> & {
  readonly acceptedTcbStatuses: readonly TcbStatus[];
};
export type SnpPolicy = Defaulted<
  AttestationPolicySpecSnp,
  "allowDebug" | "allowMigrationAgent" | "requireVcek" | "allowedVmpls"
>;
export type GpuPolicy = Defaulted<
  AttestationPolicySpecGpu,
  "mode" | "requireRimMatch" | "requireRevocationCheck" | "allowCertificateHold" | "allowDevTools"
>;

export interface Freshness {
  challengeTtlMs: number;
  reattestIntervalMs: number;
  resultTtlMs: number;
}

export interface CompiledPolicy {
  readonly name: string;
  readonly uid?: string;
  readonly generation?: number;
  /** `spec.allowUnpinnedMeasurements`: attest guests whose launch measurement the policy does not pin. */
  readonly allowUnpinnedMeasurements: boolean;
  readonly host: HostPolicy;
  readonly tdx: TdxPolicy;
  readonly snp: SnpPolicy;
  readonly gpu: GpuPolicy;
  readonly freshness: Readonly<Freshness>;
}

export type PolicyCompilation = { ok: true; policy: CompiledPolicy } | { ok: false; errors: FieldError[] };

function required<T>(value: T | undefined, field: string): T {
  // The CRD defaults every field read here; a gap means the CRD and this module disagree.
  if (value === undefined) throw new Error(`the AttestationPolicy CRD has no default for ${field}`);
  return value;
}

function fromDefaulted(policy: AttestationPolicy): CompiledPolicy {
  const spec = policy.spec;
  const host = required(spec.host, "spec.host");
  const tdx = required(spec.tdx, "spec.tdx");
  const snp = required(spec.snp, "spec.snp");
  const gpu = required(spec.gpu, "spec.gpu");
  const freshness = required(spec.freshness, "spec.freshness");
  return {
    name: policy.metadata.name ?? "",
    ...(policy.metadata.uid === undefined ? {} : { uid: policy.metadata.uid }),
    allowUnpinnedMeasurements: required(spec.allowUnpinnedMeasurements, "spec.allowUnpinnedMeasurements"),
    ...(policy.metadata.generation === undefined ? {} : { generation: policy.metadata.generation }),
    host: {
      ...host,
      requireIommu: required(host.requireIommu, "spec.host.requireIommu"),
      requireGpuCcMode: required(host.requireGpuCcMode, "spec.host.requireGpuCcMode"),
    },
    tdx: {
      ...tdx,
      allowDebug: required(tdx.allowDebug, "spec.tdx.allowDebug"),
      allowedAttributes: required(tdx.allowedAttributes, "spec.tdx.allowedAttributes"),
      acceptedTcbStatuses: required(tdx.acceptedTcbStatuses, "spec.tdx.acceptedTcbStatuses"),
      requireSecureBoot: required(tdx.requireSecureBoot, "spec.tdx.requireSecureBoot"),
      unknownEvents: required(tdx.unknownEvents, "spec.tdx.unknownEvents"),
    },
    snp: {
      ...snp,
      allowDebug: required(snp.allowDebug, "spec.snp.allowDebug"),
      allowMigrationAgent: required(snp.allowMigrationAgent, "spec.snp.allowMigrationAgent"),
      requireVcek: required(snp.requireVcek, "spec.snp.requireVcek"),
      allowedVmpls: required(snp.allowedVmpls, "spec.snp.allowedVmpls"),
    },
    gpu: {
      ...gpu,
      mode: required(gpu.mode, "spec.gpu.mode"),
      requireRimMatch: required(gpu.requireRimMatch, "spec.gpu.requireRimMatch"),
      requireRevocationCheck: required(gpu.requireRevocationCheck, "spec.gpu.requireRevocationCheck"),
      allowCertificateHold: required(gpu.allowCertificateHold, "spec.gpu.allowCertificateHold"),
      allowDevTools: required(gpu.allowDevTools, "spec.gpu.allowDevTools"),
    },
    freshness: {
      challengeTtlMs: parseDuration(required(freshness.challengeTtl, "spec.freshness.challengeTtl")),
      reattestIntervalMs: parseDuration(
        required(freshness.reattestInterval, "spec.freshness.reattestInterval"),
      ),
      resultTtlMs: parseDuration(required(freshness.resultTtl, "spec.freshness.resultTtl")),
    },
  };
}

/** Compiles a whole AttestationPolicy document (as read from YAML, or from the API server). */
export function compilePolicy(document: unknown): PolicyCompilation {
  const checked = validateAttestationPolicy(document);
  if (!checked.ok) return checked;
  return { ok: true, policy: fromDefaulted(checked.value) };
}

/** Compiles a bare spec (tests, `trustgate verify` without --policy); throws on a spec the CRD refuses. */
export function compilePolicySpec(spec: AttestationPolicySpec, name = "inline"): CompiledPolicy {
  const compiled = compilePolicy({
    apiVersion: API_VERSION,
    kind: ATTESTATION_POLICY.kind,
    metadata: { name },
    spec,
  });
  if (!compiled.ok) {
    const problems = compiled.errors.map((e) => `${e.path}: ${e.message}`).join("; ");
    throw new Error(`AttestationPolicy ${name} is not valid: ${problems}`);
  }
  return compiled.policy;
}

/**
 * A memo of compiled policies for a controller: a policy is compiled again only when its resourceVersion changes.
 * Bounded by the number of policies in the cluster (entries of deleted policies are dropped on the next compile).
 */
export class PolicyCompiler {
  readonly #entries = new Map<string, { version: string; result: PolicyCompilation }>();

  compile(policy: AttestationPolicy): PolicyCompilation {
    const key = policy.metadata.uid ?? policy.metadata.name ?? "";
    const version = policy.metadata.resourceVersion ?? "";
    const cached = this.#entries.get(key);
    if (cached !== undefined && cached.version === version && version !== "") return cached.result;
    const result = compilePolicy(policy);
    this.#entries.set(key, { version, result });
    return result;
  }

  forget(liveKeys: ReadonlySet<string>): void {
    for (const key of this.#entries.keys()) if (!liveKeys.has(key)) this.#entries.delete(key);
  }
}

/** The compiler a process shares between its reconcilers. */
export const sharedPolicyCompiler = new PolicyCompiler();
