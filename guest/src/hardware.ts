/** The hardware hints (providers/types.ts) for a ConfidentialVM, as its status and spec describe it. */
import type { ConfidentialVM } from "../../operator/src/api/v1alpha1/generated/types.ts";
import type { HardwareHints } from "./providers/types.ts";

export function hardwareHints(cvm: ConfidentialVM): HardwareHints {
  const self = `${cvm.metadata.namespace ?? ""}/${cvm.metadata.name ?? ""}`;
  const machine = cvm.status?.nodeName ?? self;
  const assigned = cvm.status?.gpus;
  const tee = cvm.spec.tee;
  const switches = cvm.status?.nvswitches ?? [];
  const nvswitches =
    switches.length === 0 ? {} : { nvswitches: switches.map((s) => `${machine}/${s.pciAddress}`) };
  if (assigned !== undefined && assigned.length > 0)
    return {
      machine,
      tee,
      ...nvswitches,
      // Until the host reports which GPUs the VM got, status.gpus holds one model-only entry per requested GPU.
      gpus: assigned.map((gpu, index) =>
        gpu.pciAddress === undefined ? `${self}/gpu${index}` : `${machine}/${gpu.pciAddress}`,
      ),
    };
  const count = cvm.spec.gpus?.count ?? 0;
  return { machine, tee, gpus: Array.from({ length: count }, (_, index) => `${self}/gpu${index}`) };
}
