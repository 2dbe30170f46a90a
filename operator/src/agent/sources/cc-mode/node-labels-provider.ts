import {
  CC_MODES,
  emptyReport,
  type CcModeProvider,
  type CcModeReport,
  type DeviceRef,
  type KnownCcMode,
} from "./provider.ts";

/**
 * NVIDIA k8s-cc-manager's Node labels (facts from its source, no code taken): it watches the desired
 * mode `nvidia.com/cc.mode` (on, off, devtools, ppcie; unset means its default), applies it to every
 * GPU of the node (ppcie: every GPU and NVSwitch), reads the mode back after the GPU reset, and only
 * then writes the applied mode to `nvidia.com/cc.mode.state` (`failed` when it could not) and
 * `nvidia.com/cc.ready.state` (`true` for on and ppcie, `false` for off, empty otherwise). Older
 * releases (the shell script) wrote `success`/`failed`, which does not name the mode.
 *
 * Trust: host-asserted. The labels are writable by whoever holds that node's kubelet credentials
 * (NodeRestriction lets a kubelet set nvidia.com/ labels on its own Node), by the CC manager's
 * ServiceAccount (which may patch every Node) and by cluster admins.
 */
export const LABEL_CC_MODE = "nvidia.com/cc.mode";
export const LABEL_CC_MODE_STATE = "nvidia.com/cc.mode.state";
export const LABEL_CC_READY_STATE = "nvidia.com/cc.ready.state";

/** The Node's labels as the agent read them this scan, or why it could not. */
export type NodeLabelsSnapshot = { labels: Record<string, string> } | { error: string };

export type NodeLabelsVerdict =
  | { kind: "mode"; mode: KnownCcMode }
  | { kind: "absent" }
  | { kind: "refused"; reason: string };

const READY_FOR: Record<KnownCcMode, string> = { on: "true", ppcie: "true", off: "false", devtools: "" };

/** What the CC manager's labels say about the node's applied mode (pure). */
export function ccModeFromNodeLabels(labels: Record<string, string>): NodeLabelsVerdict {
  const state = labels[LABEL_CC_MODE_STATE];
  if (state === undefined) return { kind: "absent" };
  const desired = labels[LABEL_CC_MODE];
  if (state === "failed")
    return {
      kind: "refused",
      reason: `k8s-cc-manager failed to apply ${LABEL_CC_MODE}=${desired ?? "<its default>"} (${LABEL_CC_MODE_STATE}=failed)`,
    };
  if (!CC_MODES.includes(state as KnownCcMode))
    return {
      kind: "refused",
      reason: `${LABEL_CC_MODE_STATE}=${JSON.stringify(state.slice(0, 63))} names no mode (on, off, devtools, ppcie); k8s-cc-manager releases that write success/failed are not supported`,
    };
  const mode = state as KnownCcMode;
  const ready = labels[LABEL_CC_READY_STATE] ?? "";
  if (ready !== READY_FOR[mode])
    return {
      kind: "refused",
      reason: `${LABEL_CC_READY_STATE}=${JSON.stringify(ready.slice(0, 63))} contradicts ${LABEL_CC_MODE_STATE}=${mode} (k8s-cc-manager writes ${JSON.stringify(READY_FOR[mode])})`,
    };
  if (desired !== undefined && desired !== "" && desired !== mode)
    return {
      kind: "refused",
      reason: `mode change pending: ${LABEL_CC_MODE}=${JSON.stringify(desired.slice(0, 63))} but ${LABEL_CC_MODE_STATE}=${mode}`,
    };
  return { kind: "mode", mode };
}

/** Applies the node-wide mode from the labels to every GPU (and, for ppcie, every NVSwitch). */
export class NodeLabelsProvider implements CcModeProvider {
  readonly name = "labels";
  readonly #snapshot: NodeLabelsSnapshot;

  constructor(snapshot: NodeLabelsSnapshot) {
    this.#snapshot = snapshot;
  }

  query(devices: readonly DeviceRef[]): Promise<CcModeReport> {
    if ("error" in this.#snapshot)
      return Promise.resolve(emptyReport([`Node labels unavailable: ${this.#snapshot.error}`]));
    const verdict = ccModeFromNodeLabels(this.#snapshot.labels);
    if (verdict.kind === "absent") return Promise.resolve(emptyReport());
    if (verdict.kind === "refused")
      return Promise.resolve(emptyReport([`Node labels refused: ${verdict.reason}`]));
    const report = emptyReport();
    for (const device of devices) {
      if (device.kind === "gpu") report.gpus.set(device.pciAddress, { mode: verdict.mode });
      else if (verdict.mode === "ppcie") report.nvswitches.set(device.pciAddress, "on");
    }
    return Promise.resolve(report);
  }
}
