import { describeFailure, type HostRoot } from "../../host-root.ts";
import {
  BOOT_ID_PATH,
  DEFAULT_PROBE_STATE_FILE,
  parseBootId,
  parseProbeState,
} from "../../cc-probe/probe-state.ts";
import { emptyReport, type CcModeProvider, type CcModeReport, type DeviceRef } from "./provider.ts";

export const DEFAULT_PROBE_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** Clock skew tolerated for a probe time in the future. */
const FUTURE_SKEW_MS = 5 * 60 * 1000;

export interface ProbeFileOptions {
  path?: string;
  /** A device's result older than this is refused (default 24 h). */
  maxAgeMs?: number;
  now: Date;
}

function hours(ms: number): string {
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

/**
 * The state file of `trustgate cc-probe` (an init container with CAP_SYS_ADMIN that ran NVIDIA's
 * gpu-admin-tools while no VM held the GPUs). Refused whole when it is from another boot (a GPU reset
 * or reboot may have changed the modes since); a device's result is refused when older than maxAge.
 *
 * Trust: host-asserted. Whoever is root on the node can write this file; the boot ID and times catch
 * stale or copied files, not a lying host owner.
 */
export class ProbeFileProvider implements CcModeProvider {
  readonly name = "probe-file";
  readonly #path: string;
  readonly #maxAgeMs: number;
  readonly #now: Date;

  constructor(options: ProbeFileOptions) {
    this.#path = options.path ?? DEFAULT_PROBE_STATE_FILE;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_PROBE_MAX_AGE_MS;
    this.#now = options.now;
  }

  async query(devices: readonly DeviceRef[], host: HostRoot): Promise<CcModeReport> {
    const path = this.#path;
    const read = await host.readValue(path, parseProbeState, 256 * 1024);
    if (read.kind === "missing") return emptyReport();
    if (read.kind !== "value") return emptyReport([describeFailure(read)]);
    const state = read.value;
    const boot = await host.readValue(BOOT_ID_PATH, parseBootId);
    if (boot.kind !== "value")
      return emptyReport([`${path} not used: this boot's ID is unknown (${describeFailure(boot)})`]);
    if (state.bootId !== boot.value)
      return emptyReport([
        `${path} refused: written in another boot (its boot ID ${state.bootId}, this boot ${boot.value}); run trustgate cc-probe again`,
      ]);

    const report = emptyReport();
    const now = this.#now.getTime();
    for (const device of devices) {
      const what = `${device.kind === "gpu" ? "GPU" : "NVSwitch"} ${device.pciAddress}`;
      const entry = state.devices[device.pciAddress];
      if (entry === undefined) {
        if (device.kind === "gpu") report.problems.push(`${path} has no result for ${what}`);
        continue;
      }
      if (entry.kind !== device.kind) {
        report.problems.push(`${path} refused for ${what}: recorded as ${entry.kind}`);
        continue;
      }
      if ("skipped" in entry) {
        report.problems.push(`${path}: the probe skipped ${what} at ${entry.at}: ${entry.skipped}`);
        continue;
      }
      const age = now - Date.parse(entry.probedAt);
      if (age > this.#maxAgeMs) {
        report.problems.push(
          `${path} refused for ${what}: probed ${hours(age)} ago at ${entry.probedAt}, older than ${hours(this.#maxAgeMs)}`,
        );
        continue;
      }
      if (age < -FUTURE_SKEW_MS) {
        report.problems.push(`${path} refused for ${what}: probed in the future (${entry.probedAt})`);
        continue;
      }
      if (entry.kind === "gpu") report.gpus.set(device.pciAddress, { mode: entry.ccMode });
      else report.nvswitches.set(device.pciAddress, entry.ppcieMode);
    }
    return report;
  }
}
