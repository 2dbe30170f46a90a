/**
 * Simulated NVIDIA H100 GPUs in CC mode: for each named device, SPDM 1.1 GET_MEASUREMENTS evidence in NVIDIA's
 * layout carrying the caller's nonce, signed by that device's leaf key, with the device's certificate chain from
 * the simulated PKI. Each name is a distinct device identity (leaf serial); the real GPU verifier checks it unchanged.
 */
import type { GpuEvidenceEntry } from "../gpu/appraisal-hooks.ts";
import { simulatedDigest, simulatedGpuSerial } from "./device-identity.ts";
import type { SimulatedHardware } from "./hardware.ts";
import { issueNvidiaDevice, type NvidiaDevice } from "./nvidia-pki.ts";
import type { SimPki } from "./sim-pki.ts";
import { encodeEvidence, opaque, type BlockSpec } from "./spdm-evidence.ts";

export const SIMULATED_GPU_DRIVER_VERSION = "550.90.07";
export const SIMULATED_GPU_VBIOS_VERSION = "96.00.9F.00.01";
const MEASUREMENT_BLOCKS = 64;

export interface SimulatedGpuOptions {
  driverVersion?: string;
  vbiosVersion?: string;
}

export class SimulatedGpus {
  readonly name = "simulated-nvidia";
  readonly #pki: SimPki;
  readonly #driverVersion: string;
  readonly #vbiosVersion: string;
  readonly #fwid: Uint8Array;
  readonly #blocks: BlockSpec[];
  readonly #devices = new Map<string, NvidiaDevice>();

  constructor(pki: SimPki, options: SimulatedGpuOptions = {}) {
    this.#pki = pki;
    this.#driverVersion = options.driverVersion ?? SIMULATED_GPU_DRIVER_VERSION;
    this.#vbiosVersion = options.vbiosVersion ?? SIMULATED_GPU_VBIOS_VERSION;
    // Same firmware, same FWID and measurements on every GPU, as on real boards.
    this.#fwid = simulatedDigest(`H100 firmware ${this.#vbiosVersion}`);
    this.#blocks = Array.from({ length: MEASUREMENT_BLOCKS }, (_, i) => ({
      index: i + 1,
      value: simulatedDigest(`H100 measurement ${i} ${this.#driverVersion} ${this.#vbiosVersion}`),
    }));
  }

  collect(gpuNonce: Uint8Array, hardware: Pick<SimulatedHardware, "gpus">): Promise<GpuEvidenceEntry[]> {
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
        };
      }),
    );
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
