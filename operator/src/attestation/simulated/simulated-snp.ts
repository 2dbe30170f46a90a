/**
 * The simulated SEV-SNP TEE: a version 3 report in the real format whose REPORT_DATA is the caller's, signed by the
 * VCEK the simulated PKI derives for the machine's CHIP_ID and TCB (simulated-vcek.ts). Like a guest on KubeVirt,
 * whose host hands it no certificate table, the evidence is the report alone: the verifier gets the VCEK and the
 * ASK/ARK chain from a KDS (the simulated one serves them). The real SNP verifier checks it unchanged.
 */
import type { TeeEvidence } from "../types.ts";
import type { TcbSpec } from "./snp-report.ts";
import { buildReport, signReport } from "./snp-report.ts";
import { simulatedChipId, simulatedDigest } from "./device-identity.ts";
import type { SimulatedHardware } from "./hardware.ts";
import type { SimPki } from "./sim-pki.ts";
import { simulatedVcek } from "./simulated-vcek.ts";

/** A plausible Milan/Genoa TCB (bootloader, TEE, SNP firmware, microcode SVNs). */
export const SIMULATED_SNP_TCB: TcbSpec = { bootloader: 9, tee: 0, snp: 23, microcode: 72 };
/** MEASUREMENT of the simulated guest image, for policies in tests and demos. */
export const SIMULATED_SNP_MEASUREMENT = Buffer.from(simulatedDigest("CVM image")).toString("hex");
/** Guest policy: SMT allowed, reserved bit 17 set, no debug, no migration agent. */
export const SIMULATED_SNP_POLICY = 0x30000;

const CPU_IDS = {
  Milan: { family: 0x19, model: 0x01, stepping: 1 },
  Genoa: { family: 0x19, model: 0x11, stepping: 1 },
} as const;

export interface SimulatedSnpOptions {
  measurement?: Uint8Array;
  hostData?: Uint8Array;
  tcb?: TcbSpec;
  /**
   * Also put the VCEK and the ASK+ARK chain into the evidence (`tee.vcek`, `tee.certChain`), as a host with an
   * extended-report certificate table would; off by default.
   */
  carryEndorsements?: boolean;
}

export class SimulatedSnpTee {
  readonly name = "simulated-snp";
  readonly #pki: SimPki;
  readonly #options: SimulatedSnpOptions;

  constructor(pki: SimPki, options: SimulatedSnpOptions = {}) {
    if (pki.amd.product !== "Milan" && pki.amd.product !== "Genoa")
      throw new Error(`the simulated SNP TEE models Milan or Genoa, not ${pki.amd.product}`);
    this.#pki = pki;
    this.#options = options;
  }

  async collect(reportData: Uint8Array, hardware: Pick<SimulatedHardware, "machine">): Promise<TeeEvidence> {
    if (reportData.length !== 64) throw new Error(`REPORT_DATA must be 64 bytes, not ${reportData.length}`);
    const product = this.#pki.amd.product === "Milan" ? "Milan" : "Genoa";
    const chipId = simulatedChipId(hardware.machine);
    const tcb = this.#options.tcb ?? SIMULATED_SNP_TCB;
    const vcek = await simulatedVcek(this.#pki.amd, chipId, tcb);
    const report = buildReport({
      version: 3,
      policy: SIMULATED_SNP_POLICY,
      cpuId: CPU_IDS[product],
      tcb,
      chipId,
      reportData,
      measurement: this.#options.measurement ?? Buffer.from(SIMULATED_SNP_MEASUREMENT, "hex"),
      ...(this.#options.hostData === undefined ? {} : { hostData: this.#options.hostData }),
    });
    const signed = Buffer.from(signReport(report, vcek.leafKey)).toString("base64");
    if (this.#options.carryEndorsements !== true) return { type: "snp", report: signed };
    return {
      type: "snp",
      report: signed,
      vcek: vcek.leafPem,
      certChain: this.#pki.amd.intermediatePem + this.#pki.amd.arkPem,
    };
  }
}
