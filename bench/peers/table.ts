/**
 * The pure part of `make bench-peers`: verdict agreement between trustgate, a peer and the fixture's manifest,
 * medians over interleaved rounds, and the side-by-side table. No I/O here, so it is unit-tested.
 */

export type Verdict = "accept" | "reject";

/** A TEE item is accepted when it is authentic, error-free and (TDX) UpToDate: what go-tdx-guest's nil error means. */
export function teeVerdict(v: {
  authentic: boolean;
  errors: readonly unknown[];
  tcbStatus: string;
}): Verdict {
  return v.authentic && v.errors.length === 0 && v.tcbStatus === "UpToDate" ? "accept" : "reject";
}

/** What the item's MANIFEST says a correct verifier concludes, in the same terms (SNP has no TCB status: UpToDate). */
export function expectedVerdict(c: {
  authentic: boolean;
  errorCodes: readonly string[];
  tcbStatus?: string;
}): Verdict {
  return c.authentic && c.errorCodes.length === 0 && (c.tcbStatus ?? "UpToDate") === "UpToDate"
    ? "accept"
    : "reject";
}

export interface PeerItemResult {
  name: string;
  verdict: Verdict;
  error?: string;
}

export interface Agreement {
  name: string;
  expected: Verdict;
  trustgate: Verdict;
  peer: Verdict | "missing";
  agree: boolean;
  /** Which of the two matches the manifest when they differ (or both, or neither). */
  right: "both" | "trustgate" | "peer" | "neither";
  peerError?: string;
}

export function compareVerdicts(
  expected: ReadonlyMap<string, Verdict>,
  trustgate: ReadonlyMap<string, Verdict>,
  peer: readonly PeerItemResult[],
): Agreement[] {
  const peerByName = new Map(peer.map((r) => [r.name, r]));
  return [...expected].map(([name, want]) => {
    const ours = trustgate.get(name);
    if (ours === undefined) throw new Error(`trustgate has no verdict for ${name}`);
    const theirs = peerByName.get(name);
    const peerVerdict = theirs?.verdict ?? "missing";
    const oursRight = ours === want;
    const theirsRight = peerVerdict === want;
    const right =
      oursRight && theirsRight ? "both" : oursRight ? "trustgate" : theirsRight ? "peer" : "neither";
    return {
      name,
      expected: want,
      trustgate: ours,
      peer: peerVerdict,
      agree: ours === peerVerdict,
      right,
      ...(theirs?.error === undefined ? {} : { peerError: theirs.error }),
    };
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export interface RateRow {
  what: string;
  unit: string;
  peer: string;
  trustgate: readonly number[];
  peerRates: readonly number[];
}

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");

function pad(rows: string[][]): string[] {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd(),
  );
}

export function renderRates(rows: readonly RateRow[]): string[] {
  const header = ["what", "trustgate", "peer", "peer rate", "trustgate/peer", "rounds"];
  const body = rows.map((row) => {
    const ours = median(row.trustgate);
    const theirs = median(row.peerRates);
    const ratio = theirs > 0 ? `${(ours / theirs).toFixed(1)}x` : "n/a";
    return [
      row.what,
      `${fmt(ours)} ${row.unit}`,
      row.peer,
      `${fmt(theirs)} ${row.unit}`,
      ratio,
      String(Math.min(row.trustgate.length, row.peerRates.length)),
    ];
  });
  return pad([header, ...body]);
}

export function renderAgreement(peer: string, rows: readonly Agreement[]): string[] {
  const lines = [
    `${peer}: ${rows.filter((r) => r.agree).length}/${rows.length} verdicts agree; right per manifest: ` +
      `trustgate ${rows.filter((r) => r.trustgate === r.expected).length}/${rows.length}, ` +
      `${peer} ${rows.filter((r) => r.peer === r.expected).length}/${rows.length}`,
  ];
  const table = pad([
    ["item", "manifest", "trustgate", peer, ""],
    ...rows.map((r) => [
      r.name,
      r.expected,
      r.trustgate,
      r.peer,
      r.agree ? "agree" : `differ (${r.right} right)`,
    ]),
  ]);
  lines.push(...table.map((line) => `  ${line}`));
  // Every rejection's reason, agreeing ones too: the same verdict can come from another cause (e.g. a parse failure).
  for (const r of rows.filter((row) => row.peerError !== undefined)) {
    lines.push(`  ${r.name}: ${peer} said: ${r.peerError ?? ""}`);
  }
  return lines;
}
