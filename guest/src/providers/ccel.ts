/**
 * The TDX event log a guest sends with its quote: the CCEL log area the firmware filled, which Linux exposes at
 * /sys/firmware/acpi/tables/data/CCEL. It is sent without the area's padding (the parser finds where the last record
 * ends); a log this guest cannot parse is sent whole, so the verifier names what is wrong with it.
 */
import { readFile } from "node:fs/promises";
import { parseEventLog } from "../../../operator/src/attestation/tdx/event-log/parse.ts";

export const DEFAULT_CCEL_PATH = "/sys/firmware/acpi/tables/data/CCEL";

/** The log's used bytes as base64, or undefined when there is no CCEL this guest can read. */
export async function readCcel(path: string = DEFAULT_CCEL_PATH): Promise<string | undefined> {
  let area: Buffer;
  try {
    area = await readFile(path);
  } catch (error) {
    // No table (older kernel, no CCEL) or not readable by this user (the file is root-only): the bundle goes without
    // a log, which the verifier reports (eventLog: absent) and event-level policy rules refuse.
    if (["ENOENT", "EACCES", "EPERM"].includes((error as NodeJS.ErrnoException).code ?? "")) return undefined;
    throw new Error(`cannot read the TDX event log ${path}: ${(error as Error).message}`, { cause: error });
  }
  let used: Uint8Array = area;
  try {
    used = area.subarray(0, parseEventLog(area).length);
  } catch {
    // Sent as read: the verifier reports the exact fault, which is more useful than a guest-side error.
  }
  return Buffer.from(used).toString("base64");
}
