/**
 * Agent chaos: SIGKILL one node agent, time its ConfidentialHost going `ReportStale` (Validated False, Node label
 * validated=false) against the controller's --host-stale-after, restart the agent and time the recovery (Validated
 * True, label back). The other hosts must stay Validated throughout. Shared by bench/chaos-agent.ts and its test.
 */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { ManagedProcess } from "../../hack/lib/managed-process.ts";
import { REASON_REPORT_STALE } from "../../operator/src/api/v1alpha1/confidential-host-conditions.ts";
import type { ConfidentialHost } from "../../operator/src/api/v1alpha1/generated/types.ts";
import { readConfidentialHost } from "../../operator/test/support/read.ts";

export const VALIDATED_LABEL = "trustgate.io/validated";

export interface ChaosAgent {
  node: string;
  process: ManagedProcess;
  respawn: (name: string) => ManagedProcess;
}

export interface HostState {
  validated?: string;
  reason?: string;
  observedAt?: string;
  label?: string;
}

export async function hostState(kc: KubeConfig, node: string): Promise<HostState> {
  const host: ConfidentialHost | undefined = await readConfidentialHost(kc, node);
  const condition = host?.status?.conditions?.find((c) => c.type === "Validated");
  const labels = (await kc.makeApiClient(CoreV1Api).readNode({ name: node })).metadata?.labels ?? {};
  const state: HostState = {};
  if (condition?.status !== undefined) state.validated = condition.status;
  if (condition?.reason !== undefined) state.reason = condition.reason;
  if (host?.status?.observedAt !== undefined) state.observedAt = host.status.observedAt;
  if (labels[VALIDATED_LABEL] !== undefined) state.label = labels[VALIDATED_LABEL];
  return state;
}

const healthy = (s: HostState) => s.validated === "True" && s.label === "true";

export interface AgentKillRound {
  round: number;
  node: string;
  staleAfterMs: number;
  /** From the kill: the host's Validated turning False with ReportStale, and its Node label turning false. */
  staleMs: number;
  labelFalseMs: number;
  /** From the last report the dead agent wrote (its observedAt) to ReportStale: the configured time plus lag. */
  staleAfterLastReportMs: number;
  /** From the restart: Validated True again, and the Node label back to true. */
  recoveredMs: number;
  labelBackMs: number;
  /** Polls in which another host was not Validated and labelled (must be 0). */
  othersDisturbed: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls every `everyMs` until `done` holds for the victim's state; counts polls where another host was unhealthy. */
async function until(
  kc: KubeConfig,
  victim: string,
  others: readonly string[],
  done: (s: HostState) => boolean,
  options: { start: number; everyMs: number; timeoutMs: number; what: string },
): Promise<{ ms: number; state: HostState; disturbed: number }> {
  let disturbed = 0;
  for (;;) {
    const state = await hostState(kc, victim);
    const ms = performance.now() - options.start;
    if (done(state)) return { ms, state, disturbed };
    for (const other of others) if (!healthy(await hostState(kc, other))) disturbed++;
    if (ms > options.timeoutMs)
      throw new Error(
        `${victim}: no ${options.what} within ${String(options.timeoutMs)} ms: ${JSON.stringify(state)}`,
      );
    await sleep(options.everyMs);
  }
}

/** One round: the victim must be healthy; SIGKILL its agent; wait for ReportStale; respawn; wait for recovery. */
export async function killAgentUntilStale(
  kc: KubeConfig,
  victim: ChaosAgent,
  others: readonly string[],
  options: { round: number; staleAfterMs: number; everyMs?: number; timeoutMs?: number },
): Promise<AgentKillRound> {
  const everyMs = options.everyMs ?? 100;
  const timeoutMs = options.timeoutMs ?? options.staleAfterMs * 3 + 30_000;
  const before = await hostState(kc, victim.node);
  if (!healthy(before))
    throw new Error(`${victim.node} is not Validated before the kill: ${JSON.stringify(before)}`);
  process.kill(victim.process.pid, "SIGKILL");
  await victim.process.exited;
  const killed = performance.now();
  const killedAt = Date.now();
  const lastReport = Date.parse((await hostState(kc, victim.node)).observedAt ?? "");
  const stale = await until(
    kc,
    victim.node,
    others,
    (s) => s.validated === "False" && s.reason === REASON_REPORT_STALE,
    {
      start: killed,
      everyMs,
      timeoutMs,
      what: "ReportStale",
    },
  );
  const staleAt = killedAt + stale.ms;
  const labelFalse = await until(kc, victim.node, others, (s) => s.label === "false", {
    start: killed,
    everyMs,
    timeoutMs,
    what: "validated=false label",
  });
  const restarted = performance.now();
  victim.process = victim.respawn(`agent-${victim.node}-${String(options.round)}`);
  const recovered = await until(kc, victim.node, others, (s) => s.validated === "True", {
    start: restarted,
    everyMs,
    timeoutMs,
    what: "recovery",
  });
  const labelBack = await until(kc, victim.node, others, (s) => s.label === "true", {
    start: restarted,
    everyMs,
    timeoutMs,
    what: "validated=true label",
  });
  return {
    round: options.round,
    node: victim.node,
    staleAfterMs: options.staleAfterMs,
    staleMs: Math.round(stale.ms),
    labelFalseMs: Math.round(labelFalse.ms),
    staleAfterLastReportMs: Math.round(staleAt - lastReport),
    recoveredMs: Math.round(recovered.ms),
    labelBackMs: Math.round(labelBack.ms),
    othersDisturbed: stale.disturbed + labelFalse.disturbed + recovered.disturbed + labelBack.disturbed,
  };
}
