/**
 * Simulated NVIDIA LS10 NVSwitches (an HGX board's, for PPCIe tests): for each named switch, SPDM 1.1
 * GET_MEASUREMENTS evidence in the layout of NVIDIA's switch samples (31 measurement blocks; opaque data with the
 * switch BIOS version as ASCII, no driver version, an FWID, the floorswept ports, position ID and lock status),
 * carrying the caller's nonce, signed by that switch's leaf key, with the chain "LS_10 A01 FSP FMC LF" ←
 * "LS_10 A01 FSP BROM" ← the simulated provisioner ICA. The bundle entries are labelled arch LS10, as NVIDIA's
 * SDKs label them. Each name is a distinct device identity; the real verifier checks them unchanged.
 */
import type { GpuEvidenceEntry } from "../gpu/checks.ts";
import { simulatedDigest, simulatedGpuSerial, simulatedPdi } from "./device-identity.ts";
import { issueNvidiaDevice, type NvidiaDevice } from "./nvidia-pki.ts";
import { signedRim } from "./nvidia-rim.ts";
import type { SimPki } from "./sim-pki.ts";
import { encodeEvidence, opaque, type OpaqueSpec } from "./spdm-evidence.ts";

/** The switch BIOS of NVIDIA's LS10 sample (attestation-sdk unit tests). */
export const SIMULATED_NVSWITCH_BIOS_VERSION = "96.10.55.00.01";
const MEASUREMENT_BLOCKS = 31;
const FLOORSWEPT_PORTS = 23;
const POSITION_ID = 24;
const LOCK_SWITCH_STATUS = 25;

const u16 = (value: number): Uint8Array => new Uint8Array([value & 0xff, (value >> 8) & 0xff]);

export interface SimulatedNvSwitchOptions {
  biosVersion?: string;
}

export class SimulatedNvSwitches {
  readonly name = "simulated-nvswitch";
  readonly #pki: SimPki;
  readonly #biosVersion: string;
  readonly #fwid: Uint8Array;
  readonly #blocks: { index: number; value: Uint8Array }[];
  readonly #devices = new Map<string, NvidiaDevice>();
  #rim: string | undefined;

  constructor(pki: SimPki, options: SimulatedNvSwitchOptions = {}) {
    this.#pki = pki;
    this.#biosVersion = options.biosVersion ?? SIMULATED_NVSWITCH_BIOS_VERSION;
    this.#fwid = simulatedDigest(`LS10 firmware ${this.#biosVersion}`);
    this.#blocks = Array.from({ length: MEASUREMENT_BLOCKS }, (_, i) => ({
      index: i + 1,
      value: simulatedDigest(`LS10 measurement ${i} ${this.#biosVersion}`),
    }));
  }

  /**
   * Evidence of each named switch; `position` in the list is the switch's POSITION_ID on the board. With `gpus`
   * (the board's GPU names) each switch signs its own PDI and the GPUs' PDIs (DEVICE_PDI, SWITCH_GPU_PDIS);
   * `pdiOf` overrides a switch's own PDI source name (tests of a swapped switch).
   */
  collect(
    nonce: Uint8Array,
    switches: readonly string[],
    board?: { gpus: readonly string[]; pdiOf?: ReadonlyMap<string, string> },
  ): Promise<GpuEvidenceEntry[]> {
    if (nonce.length !== 32) throw new Error(`the SPDM nonce must be 32 bytes, not ${nonce.length}`);
    return Promise.resolve(
      switches.map((name, position) => {
        const device = this.#device(name);
        const fields: OpaqueSpec[] = [
          opaque.switchVbios(this.#biosVersion),
          opaque.fwid(this.#fwid),
          { type: FLOORSWEPT_PORTS, value: u16(0x00ec) },
          { type: POSITION_ID, value: u16(position) },
          { type: LOCK_SWITCH_STATUS, value: u16(0x0001) },
          ...(board === undefined
            ? []
            : [
                opaque.switchPdi(simulatedPdi(board.pdiOf?.get(name) ?? name)),
                opaque.switchGpuPdis(board.gpus.map(simulatedPdi)),
              ]),
        ];
        const evidence = encodeEvidence({ nonce, blocks: this.#blocks, opaque: fields }, device.leafKey);
        const rim = this.#signedRim();
        return {
          arch: "LS10" as const,
          evidence: Buffer.from(evidence).toString("base64"),
          certChain: device.chainPem,
          vbiosVersion: this.#biosVersion,
          ...(rim === undefined ? {} : { rims: { vbios: rim } }),
        };
      }),
    );
  }

  /** The switch BIOS RIM (all 31 indexes active), signed by the simulated CoRIM hierarchy when the PKI has one. */
  #signedRim(): string | undefined {
    const ca = this.#pki.nvidiaRim;
    if (ca === undefined) return undefined;
    this.#rim ??= signedRim(
      {
        version: this.#biosVersion,
        edition: "SWITCH",
        product: "LS10",
        active: new Map(this.#blocks.map((b) => [b.index - 1, [b.value]])),
        lastIndex: MEASUREMENT_BLOCKS - 1,
      },
      ca,
    );
    return this.#rim;
  }

  #device(name: string): NvidiaDevice {
    let device = this.#devices.get(name);
    if (device === undefined) {
      device = issueNvidiaDevice(this.#pki.nvidia, {
        leafName: "LS_10 A01 FSP FMC LF",
        deviceName: "LS_10 A01 FSP BROM",
        fwid: this.#fwid,
        serial: simulatedGpuSerial(name),
      });
      this.#devices.set(name, device);
    }
    return device;
  }
}
