/**
 * What NVIDIA's gpu-admin-tools printed (`python3 -m nvidia_gpu_tools --devices <BDF> --query-cc-mode
 * --query-ppcie-mode`; facts from the tool's source, no code taken). Python logging writes, to stderr,
 * `<%Y-%m-%d,%H:%M:%S>.<ms> <LEVEL padded to 8> <message>` with the device as
 * `GPU <BDF> <name> <device id> BAR0 <addr>` or `NvSwitch <BDF> <name> <device id> BAR0 <addr>`:
 * - `... CC mode is on|off|devtools` (Hopper can also say `invalid-devtools-only-fix-by-setting-cc-mode`)
 * - `... PPCIe mode is on|off`
 * Not answers: the warning `... has CC mode on, some functionality may not work` and a pending
 * `... CC mode set to off. It will be active after GPU reset.`
 */
export interface DeviceLines {
  cc?: string;
  ppcie?: string;
}

const DEVICE = String.raw`\b(?:GPU|NvSwitch) ([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\b`;
const CC_LINE = new RegExp(`${DEVICE}.*\\bCC mode is (\\S{1,64})\\s*$`);
const PPCIE_LINE = new RegExp(`${DEVICE}.*\\bPPCIe mode is (\\S{1,64})\\s*$`);

/** Per device (lower-case BDF), the last CC and PPCIe answers the output holds. */
export function parseToolOutput(text: string): Map<string, DeviceLines> {
  const devices = new Map<string, DeviceLines>();
  const entry = (bdf: string) => {
    const key = bdf.toLowerCase();
    const existing = devices.get(key) ?? {};
    devices.set(key, existing);
    return existing;
  };
  for (const line of text.split("\n")) {
    const cc = CC_LINE.exec(line);
    if (cc?.[1] !== undefined && cc[2] !== undefined) entry(cc[1]).cc = cc[2];
    const ppcie = PPCIE_LINE.exec(line);
    if (ppcie?.[1] !== undefined && ppcie[2] !== undefined) entry(ppcie[1]).ppcie = ppcie[2];
  }
  return devices;
}

export type ProbeVerdict =
  | { ok: true; ccMode?: "on" | "off" | "devtools" | "ppcie"; ppcieMode?: "on" | "off" }
  | { ok: false; reason: string };

const PPCIE = new Set(["on", "off"]);
const CC = new Set(["on", "off", "devtools"]);

/**
 * A device's modes from its lines. A GPU needs a CC answer (CC on/devtools wins; CC off with PPCIe on
 * is `ppcie`); its PPCIe answer is optional, since the tool queries PPCIe only on Hopper. An NVSwitch
 * needs a PPCIe answer.
 */
export function verdictFor(kind: "gpu" | "nvswitch", lines: DeviceLines | undefined): ProbeVerdict {
  if (lines?.ppcie !== undefined && !PPCIE.has(lines.ppcie))
    return { ok: false, reason: `the tool said PPCIe mode is ${lines.ppcie}` };
  const ppcieMode = lines?.ppcie as "on" | "off" | undefined;
  if (kind === "nvswitch")
    return ppcieMode === undefined
      ? { ok: false, reason: "no PPCIe mode line in the tool's output" }
      : { ok: true, ppcieMode };
  if (lines?.cc === undefined) return { ok: false, reason: "no CC mode line in the tool's output" };
  if (!CC.has(lines.cc)) return { ok: false, reason: `the tool said CC mode is ${lines.cc}` };
  const cc = lines.cc as "on" | "off" | "devtools";
  const ccMode = cc === "off" && ppcieMode === "on" ? "ppcie" : cc;
  if (cc !== "off" && ppcieMode === "on")
    return { ok: false, reason: `the tool said CC mode is ${cc} and PPCIe mode is on` };
  return { ok: true, ccMode, ...(ppcieMode === undefined ? {} : { ppcieMode }) };
}
