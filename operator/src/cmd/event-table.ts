/**
 * The per-event table of a TDX appraisal (`tee.events`) as text, for `trustgate verify`'s text output: one line per
 * event with its RTMR, type, what it counts as, a digest prefix, and its value or description.
 */
import type { EventRow } from "../attestation/tdx/event-log/claims.ts";

const DIGEST_SHOWN = 16;
const TEXT_SHOWN = 72;

function clip(text: string, width: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > width ? `${flat.slice(0, width - 3)}...` : flat;
}

export function renderEventTable(events: readonly EventRow[]): string {
  if (events.length === 0) return "no event log\n";
  const header = ["#", "RTMR", "TYPE", "CLAIM", "DIGEST", "VALUE / DESCRIPTION"];
  const rows = events.map((row) => [
    String(row.index),
    row.rtmr < 0 ? "-" : String(row.rtmr),
    row.type,
    row.claim,
    `${row.digest.slice(0, DIGEST_SHOWN)}...`,
    clip(row.value ?? row.description.replace(/^event \d+ /, ""), TEXT_SHOWN),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[header, ...rows].map(line).join("\n")}\n`;
}
