/**
 * The NVSwitch evidence of a PPCIe CVM through NSCQ: for every switch NSCQ sees, its SPDM attestation report for
 * the GPU nonce and its attestation certificate chain, as bundle `gpus[]` entries with arch LS10 (the format the
 * operator's GPU verifier already parses for switches). The switches' link topology travels inside the signed
 * report (opaque data DEVICE_PDI and SWITCH_GPU_PDIS, read by the operator), so nothing host-asserted is added.
 * A switch whose pcie_mode does not have TNVL (bit 0) and locked (bit 1) set is refused here, as NVIDIA's PPCIe
 * verifier's pre-checks refuse it; the operator still decides on the signed evidence alone.
 */
import { certificateChainPem } from "../nvml/structs.ts";
import type { GpuEvidence } from "../types.ts";
import { NSCQ_ARCH_LS10, type NscqApi, type NscqSession } from "./nscq-api.ts";

const TNVL_BIT = 0x1;
const LOCK_BIT = 0x2;

export class NscqSwitches {
  readonly name = "nscq";
  readonly #load: () => Promise<NscqApi>;
  #api: Promise<NscqApi> | undefined;

  /** `load` binds NSCQ (koffi-nscq.ts by default); called on first use. */
  constructor(load: () => Promise<NscqApi>) {
    this.#load = load;
  }

  async collect(nonce: Uint8Array): Promise<GpuEvidence[]> {
    return this.#session((nscq) => nscq.switchLabels().map((label) => one(nscq, label, nonce)));
  }

  /** How many switches NSCQ sees (0 when the library is there but no switch is). */
  async count(): Promise<number> {
    return this.#session((nscq) => nscq.switchLabels().length);
  }

  async #session<T>(use: (session: NscqSession) => T): Promise<T> {
    this.#api ??= this.#load();
    const session = (await this.#api).openSession();
    try {
      return use(session);
    } finally {
      session.close();
    }
  }
}

function one(nscq: NscqSession, label: string, nonce: Uint8Array): GpuEvidence {
  const arch = nscq.architecture(label);
  if (arch !== NSCQ_ARCH_LS10)
    throw new Error(`NVSwitch ${label}: NSCQ architecture ${arch} is not LS10; only LS10 switches attest`);
  const mode = nscq.pcieMode(label);
  if ((mode & TNVL_BIT) === 0 || (mode & LOCK_BIT) === 0)
    throw new Error(
      `NVSwitch ${label}: pcie_mode ${mode} is not TNVL and locked; the switch is not in protected PCIe mode`,
    );
  const report = nscq.attestationReport(label, nonce);
  const chain = nscq.certificateChain(label);
  return {
    arch: "LS10",
    evidence: Buffer.from(report).toString("base64"),
    certChain: certificateChainPem(chain),
  };
}
