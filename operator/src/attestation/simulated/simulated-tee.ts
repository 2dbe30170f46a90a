/**
 * The simulated TEE of `trustgate guest --tee-provider simulated`: a TDX quote when the control plane says the CVM
 * runs on TDX (`spec.tee: tdx`), an SNP report when SNP, as the hardware the CVM was given would produce. Neither
 * carries collateral, a VCEK or a certificate chain: the verifier fetches those, as for a real KubeVirt guest.
 */
import type { TeeEvidence } from "../types.ts";
import type { SimulatedHardware } from "./hardware.ts";
import type { SimPki } from "./sim-pki.ts";
import { SimulatedSnpTee, type SimulatedSnpOptions } from "./simulated-snp.ts";
import { SimulatedTdxTee, type SimulatedTdxOptions } from "./simulated-tdx.ts";

export interface SimulatedTeeOptions {
  snp?: SimulatedSnpOptions;
  tdx?: SimulatedTdxOptions;
}

export class SimulatedTee {
  readonly name = "simulated";
  readonly #pki: SimPki;
  readonly #options: SimulatedTeeOptions;
  #snp: SimulatedSnpTee | undefined;
  #tdx: SimulatedTdxTee | undefined;

  constructor(pki: SimPki, options: SimulatedTeeOptions = {}) {
    this.#pki = pki;
    this.#options = options;
  }

  /** TDX evidence when `hardware.tee` is tdx; SNP evidence when it is snp or not given. */
  collect(
    reportData: Uint8Array,
    hardware: Pick<SimulatedHardware, "machine" | "tee">,
  ): Promise<TeeEvidence> {
    // The executor turns a refusal (a PKI without an Intel CA) into a rejection, as from any provider.
    return new Promise((resolve) => {
      resolve(this.#tee(hardware.tee ?? "snp").collect(reportData, hardware));
    });
  }

  #tee(tee: "tdx" | "snp"): SimulatedTdxTee | SimulatedSnpTee {
    if (tee === "tdx") return (this.#tdx ??= new SimulatedTdxTee(this.#pki, this.#options.tdx));
    return (this.#snp ??= new SimulatedSnpTee(this.#pki, this.#options.snp));
  }
}
