/**
 * PPCIe NVLink topology appraisal (pure), on the topology the devices signed in their SPDM opaque data — nothing
 * host- or guest-asserted: a board of 8 GPUs and 4 NVSwitches where every GPU's links reach exactly the 4 switches
 * of this bundle (the same 4 for every GPU), every switch's PDI is one of those and appears once, and every switch
 * reports the same 8 distinct GPUs. The rules follow NVIDIA's PPCIe verifier (nvtrust ppcie-verifier
 * topology/validate_topology.py: gpu_topology_check, switch_topology_check), plus the cross-check that the switches
 * the GPUs name are the switches attested here. The device counts (8 + 4) are the assignment's check
 * (appraise-gpus.ts); unauthentic or duplicate results are left to the verifier's own errors.
 */
import type { GpuResult, PolicyViolation } from "../types.ts";

export const PPCIE_GPUS = 8;

const FIELD = "status.evidence.gpus";

function violation(expected: string[], actual: string, message: string): PolicyViolation {
  return { field: FIELD, expected, actual, message };
}

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean =>
  a.size === b.size && [...a].every((value) => b.has(value));
const list = (values: Iterable<string>): string => [...values].sort().join(", ") || "(none)";

export function topologyViolations(results: readonly GpuResult[]): PolicyViolation[] {
  const gpus = results.filter((r) => r.deviceType !== "switch");
  const switches = results.filter((r) => r.deviceType === "switch");
  const violations: PolicyViolation[] = [];
  const attested = new Map<string, number>();
  for (const s of switches) {
    const pdi = s.topology?.pdi;
    if (pdi === undefined) {
      violations.push(
        violation(
          ["a signed DEVICE_PDI"],
          "none",
          `NVSwitch ${s.index} signs no PDI of its own (DEVICE_PDI)`,
        ),
      );
      continue;
    }
    const first = attested.get(pdi);
    if (first !== undefined)
      violations.push(
        violation(
          ["distinct switch PDIs"],
          pdi,
          `NVSwitches ${first} and ${s.index} report the same PDI ${pdi}`,
        ),
      );
    else attested.set(pdi, s.index);
  }
  const attestedSet = new Set(attested.keys());

  for (const g of gpus) {
    const reached = new Set(g.topology?.switchPdis ?? []);
    if (!sameSet(reached, attestedSet)) {
      const missing = [...reached].filter((p) => !attestedSet.has(p));
      const unreached = [...attestedSet].filter((p) => !reached.has(p));
      violations.push(
        violation(
          [list(attestedSet)],
          list(reached),
          `GPU ${g.index}'s NVLinks reach switches ${list(reached)}, not the attested NVSwitches ${list(attestedSet)}` +
            (missing.length > 0 ? `; not attested here: ${list(missing)}` : "") +
            (unreached.length > 0 ? `; not reached: ${list(unreached)}` : ""),
        ),
      );
    }
  }

  let boardGpus: { index: number; pdis: Set<string> } | undefined;
  for (const s of switches) {
    const reported = s.topology?.gpuPdis ?? [];
    const pdis = new Set(reported);
    if (reported.length !== PPCIE_GPUS || pdis.size !== PPCIE_GPUS) {
      violations.push(
        violation(
          [`${PPCIE_GPUS} distinct GPU PDIs`],
          `${reported.length} (${pdis.size} distinct)`,
          `NVSwitch ${s.index} is connected to ${pdis.size} distinct GPUs (${reported.length} reported), not ${PPCIE_GPUS}`,
        ),
      );
      continue;
    }
    if (boardGpus === undefined) boardGpus = { index: s.index, pdis };
    else if (!sameSet(boardGpus.pdis, pdis))
      violations.push(
        violation(
          [list(boardGpus.pdis)],
          list(pdis),
          `NVSwitch ${s.index} is connected to other GPUs than NVSwitch ${boardGpus.index}`,
        ),
      );
  }
  return violations;
}
