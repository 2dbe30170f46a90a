import { type CoreV1Api, type CustomObjectsApi, type V1Node } from "@kubernetes/client-node";
import { mergePatch } from "../../kube/merge-patch.ts";
import { isDeepStrictEqual } from "node:util";
import type {
  Condition,
  ConfidentialHost,
  ConfidentialHostStatus,
  ConfidentialVM,
} from "../../api/v1alpha1/generated/types.ts";
import { CONDITION_TCB_DRIFT_SOON } from "../../api/v1alpha1/confidential-vm-conditions.ts";
import { hostTcbDriftCondition } from "./tcb-drift.ts";
import { CONFIDENTIAL_HOST, GROUP, VERSION } from "../../api/v1alpha1/generated/types.ts";
import { setCondition } from "../../runtime/conditions.ts";
import type { ReconcileContext, Reconciler, ReconcileResult } from "../../runtime/controller.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import { decideHost, type ReportCheck } from "./decide.ts";
import { planNodeLabels } from "./node-labels.ts";
import {
  ANNOTATION_PINNED_KEY,
  CONDITION_VALIDATED,
} from "../../api/v1alpha1/confidential-host-conditions.ts";

export interface HostReconcilerDeps {
  hosts: { get(name: string): ConfidentialHost | undefined };
  nodes: { get(name: string): V1Node | undefined };
  objects: CustomObjectsApi;
  core: CoreV1Api;
  events: EventRecorder;
  verifyReport: (nodeName: string, status: ConfidentialHostStatus) => Promise<ReportCheck>;
  staleAfterMs: number;
  /** The ConfidentialVMs placed on a host, for TcbDriftSoon. */
  cvmsOnHost?: (nodeName: string) => readonly ConfidentialVM[];
  now?: () => Date;
}

const hostRef = { group: GROUP, version: VERSION, plural: CONFIDENTIAL_HOST.plural };

/** Reconciles one ConfidentialHost (key = Node name): verify its report, set conditions, label the Node. */
export class ConfidentialHostReconciler implements Reconciler {
  readonly name = "confidentialhost";
  private readonly deps: HostReconcilerDeps;

  constructor(deps: HostReconcilerDeps) {
    this.deps = deps;
  }

  async reconcile(name: string, { log }: ReconcileContext): Promise<ReconcileResult> {
    const { deps } = this;
    const host = deps.hosts.get(name);
    const node = deps.nodes.get(name);
    if (host === undefined) {
      if (node !== undefined) await this.applyNodeLabels(node, {}, log);
      return {};
    }
    const now = (deps.now ?? (() => new Date()))();
    const report: ReportCheck =
      host.status?.report === undefined
        ? { ok: false, reason: "no report" }
        : await deps.verifyReport(name, host.status);
    const decision = decideHost({
      host,
      nodeExists: node !== undefined,
      report,
      now,
      staleAfterMs: deps.staleAfterMs,
    });

    if (decision.pinKeyId !== undefined) {
      await deps.objects.patchClusterCustomObject(
        {
          ...hostRef,
          name,
          body: { metadata: { annotations: { [ANNOTATION_PINNED_KEY]: decision.pinKeyId } } },
        },
        mergePatch,
      );
      log.info({ keyId: decision.pinKeyId }, "Pinned ConfidentialHost agent key");
    }

    const previous = host.status?.conditions;
    let conditions = previous ?? [];
    for (const desired of decision.conditions) {
      conditions = setCondition(conditions, desired, host.metadata.generation, now);
    }
    const drift = deps.cvmsOnHost === undefined ? undefined : hostTcbDriftCondition(deps.cvmsOnHost(name));
    conditions =
      drift === undefined
        ? conditions.filter((c) => c.type !== CONDITION_TCB_DRIFT_SOON)
        : setCondition(conditions, drift, host.metadata.generation, now);
    if (!isDeepStrictEqual(conditions, previous ?? [])) {
      await deps.objects.patchClusterCustomObjectStatus(
        { ...hostRef, name, body: { status: { conditions } } },
        mergePatch,
      );
      log.info("Patched ConfidentialHost status");
      await this.recordValidationChange(host, previous, conditions);
    }
    if (node !== undefined) await this.applyNodeLabels(node, decision.labels, log);
    return decision.recheckAfterMs === undefined ? {} : { requeueAfterMs: decision.recheckAfterMs };
  }

  private async applyNodeLabels(
    node: V1Node,
    labels: Record<string, string>,
    log: ReconcileContext["log"],
  ): Promise<void> {
    const patch = planNodeLabels(node.metadata ?? {}, labels);
    if (patch === undefined) return;
    await this.deps.core.patchNode({ name: node.metadata?.name ?? "", body: patch }, mergePatch);
    log.info({ labels: patch.metadata.labels }, "Patched Node labels");
  }

  private async recordValidationChange(
    host: ConfidentialHost,
    before: readonly Condition[] | undefined,
    after: readonly Condition[],
  ): Promise<void> {
    const was = before?.find((c) => c.type === CONDITION_VALIDATED);
    const now = after.find((c) => c.type === CONDITION_VALIDATED);
    if (now === undefined || (was?.status === now.status && was.reason === now.reason)) return;
    const involved = {
      apiVersion: host.apiVersion,
      kind: host.kind,
      name: host.metadata.name ?? "",
      uid: host.metadata.uid,
    };
    const type = now.status === "True" ? "Normal" : "Warning";
    await this.deps.events.record(
      involved,
      type,
      now.status === "True" ? "HostValidated" : now.reason,
      now.message,
    );
  }
}
