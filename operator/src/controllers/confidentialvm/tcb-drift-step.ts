/**
 * The TDX TCB-drift early warning on a CVM: after each appraisal of an authentic TD, its quote is rated again
 * under Intel's early TCB evaluation (PCS `update=early`); `TcbDriftSoon` says whether it will drop. It never
 * changes Attested: it is a warning to patch or re-provision the host before the standard collateral switches.
 */
import type {
  Condition,
  ConfidentialVM,
  ConfidentialVMStatusAttestation,
} from "../../api/v1alpha1/generated/types.ts";
import { CONDITION_TCB_DRIFT_SOON } from "../../api/v1alpha1/confidential-vm-conditions.ts";
import { checkTcbDrift } from "../../attestation/tdx/tcb-drift-check.ts";
import { tcbDriftCondition } from "../../attestation/tdx/tcb-drift-condition.ts";
import type { TdxTrustAnchors } from "../../attestation/tdx/trust-anchors.ts";
import type { CollateralSource } from "../../attestation/types.ts";
import { setCondition } from "../../runtime/conditions.ts";
import type { ReconcileContext } from "../../runtime/controller.ts";

export interface TcbDriftDeps {
  /** Intel PCS/PCCS with `update=early`, behind the cache. */
  early: CollateralSource;
  /** The standard collateral source the verifier uses. */
  collateral?: CollateralSource;
  /** Defaults to the pinned Intel anchors (tests inject a test root). */
  anchors?: TdxTrustAnchors;
}

/** The CVM's conditions with TcbDriftSoon set from this appraisal, or removed when there is nothing to say. */
export async function withTcbDrift(
  cvm: ConfidentialVM,
  conditions: Condition[],
  attestation: ConfidentialVMStatusAttestation,
  deps: TcbDriftDeps | undefined,
  ctx: Pick<ReconcileContext, "log">,
  now: Date,
): Promise<Condition[]> {
  const without = conditions.filter((c) => c.type !== CONDITION_TCB_DRIFT_SOON);
  const tee = cvm.status?.evidence?.tee;
  if (deps === undefined || cvm.spec.tee !== "tdx" || tee?.type !== "tdx") return without;
  if (attestation.verdict === "contraindicated") return without;
  const check = await checkTcbDrift(tee, {
    now,
    early: deps.early,
    ...(deps.collateral === undefined ? {} : { collateral: deps.collateral }),
    ...(deps.anchors === undefined ? {} : { anchors: deps.anchors }),
  });
  if (check.errors.length > 0)
    ctx.log.info({ errors: check.errors.map((e) => `${e.code}: ${e.message}`) }, "TCB drift not rated");
  if (check.drift === undefined) return without;
  return setCondition(conditions, tcbDriftCondition(check.drift), cvm.metadata.generation, now);
}
