/**
 * The simulated Intel TDX TEE: a quote v4 in the real format, built from scratch, whose REPORTDATA is the caller's:
 * a TD 1.0 report of the simulated TD (MRTD, RTMRs) on the simulated platform (tdx-platform.ts), signed by the QE's
 * ECDSA P-256 attestation key; the QE report binding that key, signed by the machine's PCK certificate; the PCK
 * chain (leaf, PCK Platform CA, simulated root) as certification data. Like a real quote it carries no collateral:
 * the verifier fetches TCB info, QE identity and CRLs from a PCS (the simulated one, collateral-services.ts).
 */
import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import type { TeeEvidence } from "../types.ts";
import type { SimulatedHardware } from "./hardware.ts";
import { issuePckLeaf, pemChain, type IntelCa, type IntelIdentity } from "./intel-pki.ts";
import type { SimPki } from "./sim-pki.ts";
import {
  SIMULATED_TD_QE,
  SIMULATED_TDX_MODULE,
  SIMULATED_TDX_MRSEAM,
  SIMULATED_TDX_MRTD,
  SIMULATED_TDX_PCK_TCB,
  SIMULATED_TDX_RTMRS,
  SIMULATED_TDX_TD_ATTRIBUTES,
  SIMULATED_TDX_XFAM,
  SIMULATED_TEE_TCB_SVN,
} from "./tdx-platform.ts";
import { encodeQeReport, encodeQuoteHeader, encodeTdReport10, signTdxQuote } from "./tdx-quote.ts";

export { SIMULATED_TDX_FMSPC, SIMULATED_TDX_MRTD, SIMULATED_TDX_RTMRS } from "./tdx-platform.ts";

/** The QE auth data Intel's QE sends: 32 bytes 0x00..0x1f. */
const QE_AUTH_DATA = Uint8Array.from({ length: 32 }, (_, index) => index);

export interface SimulatedTdxOptions {
  /** MRTD (48 bytes); SIMULATED_TDX_MRTD by default. */
  mrTd?: Uint8Array;
  /** RTMR0..3 (48 bytes each); SIMULATED_TDX_RTMRS by default. */
  rtmrs?: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  /** TD ATTRIBUTES (8 bytes, the quote's order); SEPT_VE_DISABLE only by default. */
  tdAttributes?: Uint8Array;
}

interface Machine {
  pck: IntelIdentity;
  attestationKey: KeyObject;
  chainPem: string;
}

const bytes = (hex: string): Buffer => Buffer.from(hex, "hex");

export class SimulatedTdxTee {
  readonly name = "simulated-tdx";
  readonly #intel: IntelCa;
  readonly #options: SimulatedTdxOptions;
  readonly #machines = new Map<string, Machine>();

  constructor(pki: Pick<SimPki, "intel">, options: SimulatedTdxOptions = {}) {
    if (pki.intel === undefined)
      throw new Error(
        "this simulated PKI has no Intel CA (it predates the simulated TDX TEE): create a new one with hack/sim-pki.ts",
      );
    this.#intel = pki.intel;
    this.#options = options;
  }

  collect(reportData: Uint8Array, hardware: Pick<SimulatedHardware, "machine">): Promise<TeeEvidence> {
    // The executor turns a thrown error (bad REPORTDATA) into a rejection, as from any provider.
    return new Promise((resolve) => {
      resolve(this.#evidence(reportData, hardware.machine));
    });
  }

  #evidence(reportData: Uint8Array, machineName: string): TeeEvidence {
    if (reportData.length !== 64) throw new Error(`REPORTDATA must be 64 bytes, not ${reportData.length}`);
    const machine = this.#machine(machineName);
    const header = encodeQuoteHeader({
      qeSvn: SIMULATED_TD_QE.isvSvn,
      pceSvn: SIMULATED_TDX_PCK_TCB.pceSvn,
      userData: createHash("sha256").update("trustgate simulated QE").digest().subarray(0, 20),
    });
    const body = encodeTdReport10({
      teeTcbSvn: Uint8Array.from(SIMULATED_TEE_TCB_SVN),
      mrSeam: bytes(SIMULATED_TDX_MRSEAM),
      mrSignerSeam: bytes(SIMULATED_TDX_MODULE.mrSigner),
      seamAttributes: bytes(SIMULATED_TDX_MODULE.attributes),
      tdAttributes: this.#options.tdAttributes ?? bytes(SIMULATED_TDX_TD_ATTRIBUTES),
      xfam: bytes(SIMULATED_TDX_XFAM),
      mrTd: this.#options.mrTd ?? bytes(SIMULATED_TDX_MRTD),
      mrConfigId: new Uint8Array(48),
      mrOwner: new Uint8Array(48),
      mrOwnerConfig: new Uint8Array(48),
      rtmrs: this.#options.rtmrs ?? [
        bytes(SIMULATED_TDX_RTMRS[0]),
        bytes(SIMULATED_TDX_RTMRS[1]),
        bytes(SIMULATED_TDX_RTMRS[2]),
        bytes(SIMULATED_TDX_RTMRS[3]),
      ],
      reportData,
    });
    const qeReport = encodeQeReport({
      cpuSvn: Uint8Array.from(SIMULATED_TDX_PCK_TCB.sgxComponents),
      miscSelect: SIMULATED_TD_QE.miscSelect,
      attributes: bytes(SIMULATED_TD_QE.attributes),
      mrEnclave: bytes(SIMULATED_TD_QE.mrEnclave),
      mrSigner: bytes(SIMULATED_TD_QE.mrSigner),
      isvProdId: SIMULATED_TD_QE.isvProdId,
      isvSvn: SIMULATED_TD_QE.isvSvn,
    });
    const quote = signTdxQuote({
      signedRegion: Buffer.concat([header, body]),
      qeReport,
      qeAuthData: QE_AUTH_DATA,
      attestationKey: machine.attestationKey,
      pckKey: machine.pck.keys.privateKey,
      pckChainPem: machine.chainPem,
    });
    return { type: "tdx", quote: quote.toString("base64") };
  }

  /** A machine's PCK certificate (the same in every process) and its QE's attestation key (one per TEE). */
  #machine(name: string): Machine {
    let machine = this.#machines.get(name);
    if (machine === undefined) {
      const pck = issuePckLeaf(this.#intel, name, SIMULATED_TDX_PCK_TCB);
      machine = {
        pck,
        attestationKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
        chainPem: pemChain(pck.certificate, this.#intel.pckCa.certificate, this.#intel.root),
      };
      this.#machines.set(name, machine);
    }
    return machine;
  }
}
