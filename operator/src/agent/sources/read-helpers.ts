import { describeFailure, type HostRead, type ParseResult } from "../host-root.ts";

/** The value, or undefined with the failure added to `problems` (a missing file too, unless `missingOk`). */
export function valueOf<T>(read: HostRead<T>, problems: string[], missingOk = false): T | undefined {
  if (read.kind === "value") return read.value;
  if (!(missingOk && read.kind === "missing")) problems.push(describeFailure(read));
  return undefined;
}

/** A kernel module boolean parameter: `Y`/`N` (bool params) or `1`/`0` (older int params). */
export function parseKernelBool(text: string): ParseResult<boolean> {
  if (text === "Y" || text === "1") return { ok: true, value: true };
  if (text === "N" || text === "0") return { ok: true, value: false };
  return { ok: false, reason: `expected Y, N, 1 or 0, got ${JSON.stringify(text.slice(0, 32))}` };
}

/** A hex number as sysfs writes it ("0x10de"). */
export function parseHex(text: string): ParseResult<number> {
  if (!/^0x[0-9a-fA-F]{1,16}$/.test(text)) return { ok: false, reason: `expected a 0x-prefixed hex number` };
  return { ok: true, value: Number.parseInt(text.slice(2), 16) };
}

/** A single line of printable text, at most maxLength characters. */
export function parseLine(maxLength: number): (text: string) => ParseResult<string> {
  return (text) => {
    if (text.length === 0) return { ok: false, reason: "empty" };
    if (text.length > maxLength) return { ok: false, reason: `longer than ${maxLength} characters` };
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(text)) return { ok: false, reason: "contains control characters" };
    return { ok: true, value: text };
  };
}
