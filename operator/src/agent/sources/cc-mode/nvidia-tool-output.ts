import type { KnownCcMode } from "./provider.ts";

/**
 * What NVIDIA's admin tools printed. Formats (facts from the tools, no code taken):
 * - gpu-admin-tools `nvidia_gpu_tools.py --query-cc-mode` logs
 *   "<time> INFO     GPU 0000:45:00.0 H100-SXM 0x2330 BAR0 0x... CC mode is on" (on|off|devtools), and with
 *   `--query-ppcie-mode` "... PPCIe mode is on" (on|off); Python logging writes these to stderr.
 * - `nvidia-smi conf-compute -f` prints "CC status: ON" (or OFF) for the whole system, and
 *   `nvidia-smi conf-compute -d` prints "DevTools Mode: ON" (or OFF).
 */
export interface ToolFindings {
  perGpu: Map<string, { cc?: "on" | "off" | "devtools"; ppcie?: "on" | "off" }>;
  systemCc?: "on" | "off";
  systemDevtools?: boolean;
}

const DEVICE = String.raw`\b(?:GPU|NvSwitch) ([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\b`;
const CC_LINE = new RegExp(`${DEVICE}.*\\bCC mode is (on|off|devtools)\\s*$`);
const PPCIE_LINE = new RegExp(`${DEVICE}.*\\bPPCIe mode is (on|off)\\s*$`);
const SMI_CC = /^\s*CC (?:status|state)\s*:\s*(ON|OFF)\s*$/i;
const SMI_DEVTOOLS = /^\s*DevTools Mode\s*:\s*(ON|OFF)\s*$/i;

export function parseToolOutput(text: string): ToolFindings {
  const findings: ToolFindings = { perGpu: new Map() };
  const entry = (bdf: string) => {
    const key = bdf.toLowerCase();
    const existing = findings.perGpu.get(key) ?? {};
    findings.perGpu.set(key, existing);
    return existing;
  };
  // Later lines win: a log that switched modes and queried again ends with the current mode.
  for (const line of text.split("\n")) {
    const cc = CC_LINE.exec(line);
    if (cc !== null) entry(cc[1] ?? "").cc = cc[2] as "on" | "off" | "devtools";
    const ppcie = PPCIE_LINE.exec(line);
    if (ppcie !== null) entry(ppcie[1] ?? "").ppcie = ppcie[2] as "on" | "off";
    const smi = SMI_CC.exec(line);
    if (smi !== null) findings.systemCc = smi[1]?.toUpperCase() === "ON" ? "on" : "off";
    const devtools = SMI_DEVTOOLS.exec(line);
    if (devtools !== null) findings.systemDevtools = devtools[1]?.toUpperCase() === "ON";
  }
  return findings;
}

/** A GPU's mode from its tool lines: CC on/devtools wins; with CC off, protected PCIe on is `ppcie`. */
export function gpuModeFrom(lines: {
  cc?: "on" | "off" | "devtools";
  ppcie?: "on" | "off";
}): KnownCcMode | undefined {
  if (lines.cc === "on" || lines.cc === "devtools") return lines.cc;
  if (lines.ppcie === "on") return "ppcie";
  return lines.cc;
}

/** The system-wide nvidia-smi answer, which covers the GPUs the NVIDIA driver drives. */
export function systemModeFrom(findings: ToolFindings): KnownCcMode | undefined {
  if (findings.systemCc === undefined) return undefined;
  if (findings.systemCc === "off") return "off";
  return findings.systemDevtools === true ? "devtools" : "on";
}
