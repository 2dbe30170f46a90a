import type { HostRoot, HostRead } from "../host-root.ts";

export const CMDLINE_PATH = "/proc/cmdline";

/** Kernel parameters that matter for confidential computing and device assignment. */
const RELEVANT = [
  /^intel_iommu$/,
  /^amd_iommu$/,
  /^iommu$/,
  /^iommu\.passthrough$/,
  /^iommu\.strict$/,
  /^kvm_intel\.tdx$/,
  /^kvm_amd\.sev(_es|_snp)?$/,
  /^mem_encrypt$/,
  /^nohibernate$/,
  /^vfio[-_]pci\.ids$/,
  /^modprobe\.blacklist$/,
];

/** Splits /proc/cmdline into `key` or `key=value` words, honouring double quotes. */
export function splitCmdline(text: string): string[] {
  const words: string[] = [];
  let current = "";
  let quoted = false;
  for (const char of text.trim()) {
    if (char === '"') quoted = !quoted;
    else if (/\s/.test(char) && !quoted) {
      if (current !== "") words.push(current);
      current = "";
    } else current += char;
  }
  if (current !== "") words.push(current);
  return words;
}

export function cmdlineValue(words: readonly string[], key: string): string | undefined {
  let found: string | undefined;
  for (const word of words) {
    const [name, ...rest] = word.split("=");
    if (name === key) found = rest.length === 0 ? "" : rest.join("=");
  }
  return found;
}

/** Only the relevant words, so the status never carries the rest (root=, secrets some setups pass). */
export function relevantCmdline(words: readonly string[]): string {
  return words.filter((word) => RELEVANT.some((re) => re.test(word.split("=")[0] ?? ""))).join(" ");
}

export async function readCmdline(host: HostRoot): Promise<HostRead<string[]>> {
  const read = await host.readText(CMDLINE_PATH);
  return read.kind === "value" ? { kind: "value", value: splitCmdline(read.value) } : read;
}
