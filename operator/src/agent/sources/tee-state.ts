import { describeFailure, type HostRead } from "../host-root.ts";

/**
 * What the kernel says about one TEE: `enabled` (KVM brought it up), `disabled` (the kernel supports
 * it but it is off), `absent` (no KVM module or no support in this kernel), `unknown` (could not tell).
 */
export type TeeState = "enabled" | "disabled" | "absent" | "unknown";

export interface TeeFacts {
  state: TeeState;
  /** TDX module version or SEV-SNP firmware version; `unknown` when the host does not expose it. */
  version?: string;
}

/** The KVM module parameter that switches a TEE on, read into a TeeState. */
export function teeStateFrom(
  param: HostRead<boolean>,
  moduleLoaded: boolean,
  problems: string[],
  details: Record<string, string>,
  detailKey: string,
): TeeState {
  if (param.kind === "value") {
    details[detailKey] = param.value ? "Y" : "N";
    return param.value ? "enabled" : "disabled";
  }
  if (param.kind === "missing") {
    // A loaded KVM module without the parameter is a kernel without host support for this TEE.
    if (moduleLoaded) details[detailKey] = "unsupported";
    return "absent";
  }
  problems.push(describeFailure(param));
  details[detailKey] = "unknown";
  return "unknown";
}
