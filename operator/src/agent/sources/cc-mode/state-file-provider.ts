import { describeFailure, type HostRoot } from "../../host-root.ts";
import {
  CC_MODES,
  type CcModeAnswer,
  type CcModeProvider,
  type CcModeReport,
  type GpuRef,
  type KnownCcMode,
} from "./provider.ts";

/**
 * Node-local CC mode state, written by whoever sets the modes (an admin, an init container running
 * nvidia_gpu_tools before GPUs are handed to VMs, or a CC manager):
 *
 *   { "gpus": { "0000:18:00.0": { "ccMode": "on", "vbiosVersion": "96.00.9F.00.01" } } }
 *
 * ccMode is on | off | devtools | ppcie; vbiosVersion is optional (GPUs on vfio-pci cannot report
 * theirs to the host). GPUs the file does not name get no answer from it.
 */
export const CC_MODE_STATE_FILE = "/etc/trustgate/cc-mode.json";

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const VBIOS = /^[0-9A-Fa-f]{2}(\.[0-9A-Fa-f]{2}){4}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class StateFileProvider implements CcModeProvider {
  readonly name = "state-file";
  readonly #path: string;

  constructor(path = CC_MODE_STATE_FILE) {
    this.#path = path;
  }

  async query(gpus: readonly GpuRef[], host: HostRoot): Promise<CcModeReport> {
    const answers = new Map<string, CcModeAnswer>();
    const problems: string[] = [];
    const read = await host.readText(this.#path, 1024 * 1024);
    if (read.kind === "missing") return { answers, problems };
    if (read.kind !== "value") return { answers, problems: [describeFailure(read)] };
    let parsed: unknown;
    try {
      parsed = JSON.parse(read.value);
    } catch (error) {
      return { answers, problems: [`${this.#path} malformed: ${(error as Error).message}`] };
    }
    const entries = isRecord(parsed) ? parsed["gpus"] : undefined;
    if (!isRecord(entries)) return { answers, problems: [`${this.#path} malformed: no "gpus" object`] };

    const wanted = new Set(gpus.map((g) => g.pciAddress));
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
      const answer: CcModeAnswer = { mode: mode as KnownCcMode, source: this.name };
      const vbios = isRecord(entry) ? entry["vbiosVersion"] : undefined;
      if (typeof vbios === "string" && VBIOS.test(vbios)) answer.vbiosVersion = vbios.toUpperCase();
      else if (vbios !== undefined) problems.push(`${this.#path} malformed: GPU ${bdf} vbiosVersion`);
      answers.set(bdf, answer);
    }
    return { answers, problems };
  }
}
