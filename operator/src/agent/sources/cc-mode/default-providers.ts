import { NodeLabelsProvider, type NodeLabelsSnapshot } from "./node-labels-provider.ts";
import { ProbeFileProvider } from "./probe-file-provider.ts";
import {
  AUTO_ORDER,
  type CcModeProvider,
  type CcModeSourceName,
  type CcModeSourceSetting,
} from "./provider.ts";
import { StateFileProvider } from "./state-file-provider.ts";

export interface CcModeInputs {
  /** `auto` asks labels, probe-file and file in that order; a name uses only that source. */
  ccModeSource: CcModeSourceSetting;
  /** Host paths (under the host root). */
  ccModeStateFile: string;
  ccProbeStateFile: string;
  ccProbeMaxAgeMs: number;
}

/** Whether a scan needs the Node's labels (only then does the agent GET its Node). */
export function wantsNodeLabels(inputs: Pick<CcModeInputs, "ccModeSource">): boolean {
  return inputs.ccModeSource === "auto" || inputs.ccModeSource === "labels";
}

/**
 * The providers of one scan, in the order they are asked. `labels` is left out of `auto` when there
 * is no snapshot (the agent runs without a cluster, `--print`); asked explicitly, it then says why.
 */
export function ccModeProviders(
  inputs: CcModeInputs,
  now: Date,
  nodeLabels: NodeLabelsSnapshot | undefined,
): CcModeProvider[] {
  const make: Record<CcModeSourceName, () => CcModeProvider | undefined> = {
    labels: () =>
      nodeLabels === undefined
        ? inputs.ccModeSource === "labels"
          ? new NodeLabelsProvider({ error: "the agent is not connected to the API server" })
          : undefined
        : new NodeLabelsProvider(nodeLabels),
    "probe-file": () =>
      new ProbeFileProvider({ path: inputs.ccProbeStateFile, maxAgeMs: inputs.ccProbeMaxAgeMs, now }),
    file: () => new StateFileProvider(inputs.ccModeStateFile),
  };
  const names = inputs.ccModeSource === "auto" ? AUTO_ORDER : [inputs.ccModeSource];
  return names.flatMap((name) => {
    const provider = make[name]();
    return provider === undefined ? [] : [provider];
  });
}
