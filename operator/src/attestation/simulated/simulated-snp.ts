/**
 * The simulated SEV-SNP TEE: a version 3 report in the real format whose REPORT_DATA is the caller's, signed by a
 * VCEK the simulated PKI issues for the machine's CHIP_ID and TCB. The real SNP verifier checks it unchanged.
 */
import type { TeeEvidence } from "../types.ts";
import type { TcbSpec } from "./snp-report.ts";
import { buildReport, signReport } from "./snp-report.ts";
import { issueAmdLeaf, type AmdLeaf } from "./amd-pki.ts";
import { simulatedChipId, simulatedDigest } from "./device-identity.ts";
import type { SimulatedHardware } from "./hardware.ts";
import type { SimPki } from "./sim-pki.ts";

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
}

export class SimulatedSnpTee {
  readonly name = "simulated-snp";
  readonly #pki: SimPki;
  readonly #options: SimulatedSnpOptions;
  readonly #vceks = new Map<string, Promise<AmdLeaf>>();

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
    const vcek = await this.#vcek(hardware.machine, chipId, tcb);
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
    return {
      type: "snp",
      report: Buffer.from(signReport(report, vcek.leafKey)).toString("base64"),
      vcek: vcek.leafPem,
      certChain: this.#pki.amd.intermediatePem + this.#pki.amd.arkPem,
    };
  }

  #vcek(machine: string, chipId: Uint8Array, tcb: TcbSpec): Promise<AmdLeaf> {
    let vcek = this.#vceks.get(machine);
    if (vcek === undefined) {
      vcek = issueAmdLeaf(this.#pki.amd, { spl: { ...tcb }, hwId: chipId });
      this.#vceks.set(machine, vcek);
    }
    return vcek;
  }
}
