import { describeFailure, type HostRoot } from "../../host-root.ts";
import {
  CC_MODES,
  emptyReport,
  type CcModeProvider,
  type CcModeReport,
  type DeviceRef,
  type GpuAnswer,
  type KnownCcMode,
} from "./provider.ts";

/**
 * The manual override: CC modes an admin writes by hand on the node.
 *
 *   { "gpus": { "0000:18:00.0": { "ccMode": "on", "vbiosVersion": "96.00.9F.00.01" } },
 *     "nvswitches": { "0000:05:00.0": { "ppcieMode": "on" } } }
 *
 * ccMode is on | off | devtools | ppcie; vbiosVersion is optional (GPUs on vfio-pci cannot report
 * theirs to the host); nvswitches is optional. Devices the file does not name get no answer from it.
 *
 * Trust: host-asserted, and the weakest source: any root user on the node can write it and nothing
 * ties it to this boot. In `auto` it answers only when neither the CC manager's labels nor the probe
 * file do, and it cannot outvote them.
 */
export const CC_MODE_STATE_FILE = "/etc/trustgate/cc-mode.json";

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const VBIOS = /^[0-9A-Fa-f]{2}(\.[0-9A-Fa-f]{2}){4}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class StateFileProvider implements CcModeProvider {
  readonly name = "file";
  readonly #path: string;

  constructor(path = CC_MODE_STATE_FILE) {
    this.#path = path;
  }

  async query(devices: readonly DeviceRef[], host: HostRoot): Promise<CcModeReport> {
    const read = await host.readText(this.#path, 1024 * 1024);
    if (read.kind === "missing") return emptyReport();
    if (read.kind !== "value") return emptyReport([describeFailure(read)]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(read.value);
    } catch (error) {
      return emptyReport([`${this.#path} malformed: ${(error as Error).message}`]);
    }
    const entries = isRecord(parsed) ? parsed["gpus"] : undefined;
    if (!isRecord(entries)) return emptyReport([`${this.#path} malformed: no "gpus" object`]);
    const report = emptyReport();
    const { problems } = report;
    const switches = isRecord(parsed) ? parsed["nvswitches"] : undefined;
    if (switches !== undefined) this.#readSwitches(switches, devices, report);

    const wanted = new Set(devices.filter((d) => d.kind === "gpu").map((g) => g.pciAddress));
    for (const [bdf, entry] of Object.entries(entries)) {
      if (!BDF.test(bdf)) {
        problems.push(`${this.#path} malformed: ${JSON.stringify(bdf.slice(0, 32))} is not a PCI address`);
        continue;
      }
      if (!wanted.has(bdf)) continue;
      const mode = isRecord(entry) ? entry["ccMode"] : undefined;
      if (typeof mode !== "string" || !CC_MODES.includes(mode as KnownCcMode)) {
        problems.push(`${this.#path} malformed: GPU ${bdf} ccMode must be one of ${CC_MODES.join(", ")}`);
        continue;
      }
      const answer: GpuAnswer = { mode: mode as KnownCcMode };
      const vbios = isRecord(entry) ? entry["vbiosVersion"] : undefined;
      if (typeof vbios === "string" && VBIOS.test(vbios)) answer.vbiosVersion = vbios.toUpperCase();
      else if (vbios !== undefined) problems.push(`${this.#path} malformed: GPU ${bdf} vbiosVersion`);
      report.gpus.set(bdf, answer);
    }
    return report;
  }

  #readSwitches(switches: unknown, devices: readonly DeviceRef[], report: CcModeReport): void {
    if (!isRecord(switches)) {
      report.problems.push(`${this.#path} malformed: "nvswitches" is not an object`);
      return;
    }
    const wanted = new Set(devices.filter((d) => d.kind === "nvswitch").map((d) => d.pciAddress));
    for (const [bdf, entry] of Object.entries(switches)) {
      if (!BDF.test(bdf)) {
        report.problems.push(
          `${this.#path} malformed: ${JSON.stringify(bdf.slice(0, 32))} is not a PCI address`,
        );
        continue;
      }
      if (!wanted.has(bdf)) continue;
      const mode = isRecord(entry) ? entry["ppcieMode"] : undefined;
      if (mode !== "on" && mode !== "off") {
        report.problems.push(`${this.#path} malformed: NVSwitch ${bdf} ppcieMode must be on or off`);
        continue;
      }
      report.nvswitches.set(bdf, mode);
    }
  }
}
