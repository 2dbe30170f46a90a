/**
 * Simulated NVIDIA H100 GPUs in CC mode: for each named device, SPDM 1.1 GET_MEASUREMENTS evidence in NVIDIA's
 * layout carrying the caller's nonce, signed by that device's leaf key, with the device's certificate chain from
 * the simulated PKI. Each name is a distinct device identity (leaf serial); the real GPU verifier checks it unchanged.
 */
import type { GpuSystemState } from "../gpu/appraise-gpu-system.ts";
import type { GpuEvidenceEntry } from "../gpu/checks.ts";
import { simulatedDigest, simulatedGpuSerial, simulatedPdi } from "./device-identity.ts";
import type { SimulatedHardware } from "./hardware.ts";
import { issueNvidiaDevice, type NvidiaDevice } from "./nvidia-pki.ts";
import { signedRim } from "./nvidia-rim.ts";
import type { SimPki } from "./sim-pki.ts";
import { encodeEvidence, opaque, type BlockSpec, type OpaqueSpec } from "./spdm-evidence.ts";

export const SIMULATED_GPU_DRIVER_VERSION = "550.90.07";
export const SIMULATED_GPU_VBIOS_VERSION = "96.00.9F.00.01";
const MEASUREMENT_BLOCKS = 64;
/** H100 SXM5 80GB board identifiers (as in NVIDIA's samples): they name the VBIOS RIM. */
const BOARD = { project: "1010", projectSku: "0200", chipSku: "882" };
/** RIM indexes 0..31 are the driver's, 32..63 the VBIOS's (NVIDIA splits them between the two RIMs too). */
const DRIVER_INDEXES = 32;

export interface SimulatedGpuOptions {
  driverVersion?: string;
  vbiosVersion?: string;
  /** GPUs in CC devtools mode: other measurements than the (production) RIMs hold, as on real boards. */
  devToolsMode?: boolean;
}

/** The CC state the simulated GPUs report: CC on, production, devtools off, one GPU per CVM (no PPCIe). */
export const SIMULATED_GPU_SYSTEM: GpuSystemState = {
  ccFeature: "on",
  devToolsMode: "off",
  environment: "prod",
  multiGpuMode: "none",
  readyState: "not-ready",
};

function switchPdiField(switches: readonly string[] | undefined): OpaqueSpec[] {
  return switches === undefined ? [] : [opaque.gpuSwitchPdis(switches.map(simulatedPdi))];
}

export class SimulatedGpus {
  readonly name = "simulated-nvidia";
  readonly #pki: SimPki;
  readonly #driverVersion: string;
  readonly #vbiosVersion: string;
  readonly #fwid: Uint8Array;
  readonly #blocks: BlockSpec[];
  /** The production measurements, which the RIMs hold (the same as #blocks unless in devtools mode). */
  readonly #rimBlocks: BlockSpec[];
  readonly #devToolsMode: boolean;
  readonly #devices = new Map<string, NvidiaDevice>();
  #rims: { driver: string; vbios: string } | undefined;

  constructor(pki: SimPki, options: SimulatedGpuOptions = {}) {
    this.#pki = pki;
    this.#driverVersion = options.driverVersion ?? SIMULATED_GPU_DRIVER_VERSION;
    this.#vbiosVersion = options.vbiosVersion ?? SIMULATED_GPU_VBIOS_VERSION;
    // Same firmware, same FWID and measurements on every GPU, as on real boards.
    this.#fwid = simulatedDigest(`H100 firmware ${this.#vbiosVersion}`);
    const blocks = (mode: string): BlockSpec[] =>
      Array.from({ length: MEASUREMENT_BLOCKS }, (_, i) => ({
        index: i + 1,
        value: simulatedDigest(`H100 measurement ${i} ${this.#driverVersion} ${this.#vbiosVersion}${mode}`),
      }));
    this.#devToolsMode = options.devToolsMode === true;
    this.#rimBlocks = blocks("");
    this.#blocks = this.#devToolsMode ? blocks(" devtools") : this.#rimBlocks;
  }

  /** What NVML would report of these GPUs' CC state (the driver reports the SIM environment in devtools mode). */
  systemState(): Promise<GpuSystemState> {
    return Promise.resolve(
      this.#devToolsMode
        ? { ...SIMULATED_GPU_SYSTEM, devToolsMode: "on", environment: "sim" }
        : { ...SIMULATED_GPU_SYSTEM },
    );
  }

  /**
   * `nvswitches`: the names of the board's NVSwitches (PPCIe); each GPU then signs their PDIs (SWITCH_PDI) as the
   * switches its NVLinks reach. `topology` overrides that per GPU name (tests of a miswired board).
   */
  collect(
    gpuNonce: Uint8Array,
    hardware: Pick<SimulatedHardware, "gpus"> & {
      nvswitches?: readonly string[];
      topology?: ReadonlyMap<string, readonly string[]>;
    },
  ): Promise<GpuEvidenceEntry[]> {
    if (gpuNonce.length !== 32) throw new Error(`the SPDM nonce must be 32 bytes, not ${gpuNonce.length}`);
    return Promise.resolve(
      hardware.gpus.map((name) => {
        const device = this.#device(name);
        const evidence = encodeEvidence(
          {
            nonce: gpuNonce,
            blocks: this.#blocks,
            opaque: [
              opaque.driverVersion(this.#driverVersion),
              opaque.gpuVbios(this.#vbiosVersion),
              opaque.fwid(this.#fwid),
              opaque.project(BOARD.project),
              opaque.projectSku(BOARD.projectSku),
              opaque.chipSku(BOARD.chipSku),
              ...switchPdiField(hardware.topology?.get(name) ?? hardware.nvswitches),
            ],
          },
          device.leafKey,
        );
        return {
          arch: "HOPPER" as const,
          evidence: Buffer.from(evidence).toString("base64"),
          certChain: device.chainPem,
          driverVersion: this.#driverVersion,
          vbiosVersion: this.#vbiosVersion,
          ...(this.#signedRims() === undefined ? {} : { rims: this.#signedRims() }),
        };
      }),
    );
  }

  /** Driver and VBIOS RIMs for this firmware, signed by the simulated CoRIM hierarchy (when the PKI has one). */
  #signedRims(): { driver: string; vbios: string } | undefined {
    const ca = this.#pki.nvidiaRim;
    if (ca === undefined) return undefined;
    this.#rims ??= {
      driver: signedRim({ version: this.#driverVersion, active: this.#reference(0, DRIVER_INDEXES) }, ca),
      vbios: signedRim(
        { version: this.#vbiosVersion, active: this.#reference(DRIVER_INDEXES, MEASUREMENT_BLOCKS) },
        ca,
      ),
    };
    return this.#rims;
  }

  #reference(from: number, to: number): Map<number, Uint8Array[]> {
    return new Map(this.#rimBlocks.slice(from, to).map((b) => [b.index - 1, [b.value]]));
  }

  #device(name: string): NvidiaDevice {
    let device = this.#devices.get(name);
    if (device === undefined) {
      device = issueNvidiaDevice(this.#pki.nvidia, { fwid: this.#fwid, serial: simulatedGpuSerial(name) });
      this.#devices.set(name, device);
    }
    return device;
  }
}
