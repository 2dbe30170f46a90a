/**
 * The guest's self-check: the operator's own verifiers run on the evidence the guest just produced, and the result
 * is logged. It decides nothing (the controller appraises); it shows early, in the CVM's log, evidence that cannot
 * pass, including a GPU CC state the default policy refuses (devtools mode, SIM, CC off) and, with NVSwitches, a
 * signed NVLink topology the PPCIe rules refuse. Anchors: the pinned vendor
 * roots, plus the simulated roots in simulated mode.
 */
import type { Appraisal } from "../../operator/src/attestation/appraise.ts";
import type { EvidenceBundle } from "../../operator/src/attestation/types.ts";

export interface SelfCheckSummary {
  verdict: string;
  /** `claims` and (TDX, a replayed event log) `events` as `trustgate verify` prints them: `trustgate reference-values` reads them. */
  tee: {
    type: string;
    authentic: boolean;
    binding: string;
    errors: string[];
    claims: Appraisal["tee"]["claims"];
    events?: Appraisal["tee"]["events"];
  };
  gpus: { index: number; deviceType?: "gpu" | "switch"; authentic: boolean; errors: string[] }[];
  /**
   * With NVSwitches in the bundle (PPCIe): what the PPCIe topology rules say of the NVLink topology the devices
   * signed (the controller also checks the counts against the CVM's assignment, which the guest does not know).
   */
  topology?: { problems: string[] };
  /** The GPUs' CC state as reported, with what the default policy says of it. */
  gpuSystem?: NonNullable<EvidenceBundle["gpuSystem"]> & { problems: string[] };
}

const GPU_SYSTEM_FIELDS = ["spec.gpu.allowDevTools", "status.evidence.gpuSystem."];

function gpuSystemOf(bundle: EvidenceBundle, report: Appraisal): SelfCheckSummary["gpuSystem"] {
  if (bundle.gpuSystem === undefined) return undefined;
  const problems = report.policy.violations
    .filter((v) => GPU_SYSTEM_FIELDS.some((field) => v.field.startsWith(field)))
    .map((v) => v.message);
  return { ...bundle.gpuSystem, problems };
}

async function topologyOf(report: Appraisal): Promise<SelfCheckSummary["topology"]> {
  if (!report.gpus.some((g) => g.deviceType === "switch")) return undefined;
  const unauthentic = report.gpus.filter((g) => !g.authentic).map((g) => g.index);
  if (unauthentic.length > 0)
    return { problems: [`not checked: devices ${unauthentic.join(", ")} are not authentic`] };
  const { topologyViolations } = await import("../../operator/src/attestation/gpu/appraise-topology.ts");
  return { problems: topologyViolations(report.gpus).map((v) => v.message) };
}

export type SelfCheck = (bundle: EvidenceBundle) => Promise<SelfCheckSummary>;

/** Loads the verifiers (only when the self-check is on: they are most of the guest's memory). */
export async function createSelfCheck(testTrustRootsFile?: string): Promise<SelfCheck> {
  const { appraise } = await import("../../operator/src/attestation/appraise.ts");
  const { compilePolicySpec } = await import("../../operator/src/attestation/policy/compiled-policy.ts");
  const policy = compilePolicySpec({}, "self-check");
  let backends: Awaited<
    ReturnType<typeof import("../../operator/src/attestation/simulated/backends.ts").simulatedBackends>
  >;
  if (testTrustRootsFile === undefined) {
    const { defaultGpuVerifier, defaultTeeBackends } = await import(
      "../../operator/src/attestation/registry.ts"
    );
    backends = { tees: defaultTeeBackends(), gpus: defaultGpuVerifier() };
  } else {
    const { simulatedBackends } = await import("../../operator/src/attestation/simulated/backends.ts");
    backends = await simulatedBackends(testTrustRootsFile);
  }
  return async (bundle) => {
    const report = await appraise(bundle, policy, { now: new Date(), nonce: bundle.nonce, backends });
    const topology = await topologyOf(report);
    return {
      verdict: report.verdict,
      tee: {
        type: report.tee.type,
        authentic: report.tee.authentic,
        binding: report.tee.binding,
        errors: report.tee.errors.map((e) => `${e.code}: ${e.message}`),
        claims: report.tee.claims,
        ...(report.tee.events === undefined ? {} : { events: report.tee.events }),
      },
      gpus: report.gpus.map((g) => ({
        index: g.index,
        ...(g.deviceType === undefined ? {} : { deviceType: g.deviceType }),
        authentic: g.authentic,
        errors: g.errors.map((e) => `${e.code}: ${e.message}`),
      })),
      ...(bundle.gpuSystem === undefined ? {} : { gpuSystem: gpuSystemOf(bundle, report) }),
      ...(topology === undefined ? {} : { topology }),
    };
  };
}
